/**
 * A small sorted map from host id (int32) to deadline (ms). It stands in for
 * Map<number, number> where a group keeps its hosts.
 *
 * Two layouts, by size, both for the same reason: on the hot path each table
 * touched is a cache miss (10k groups are visited at random), so what counts
 * is how many objects one lookup reads.
 * - Up to two entries (most sources of most groups: a few hosts each) live in
 *   the table's own fields, sorted: one object, no arrays.
 * - From the third entry on, all entries move to two typed arrays, found by
 *   binary search: 12 bytes an entry instead of ~40 for a Map, within a few
 *   cache lines. 10k groups x 100 hosts is 1M entries; this layout is what
 *   keeps them in tens of MB (bench/membership.bench.ts measures it).
 * A table that has spilled stays spilled (its arrays shrink as it empties).
 */
export class IdTable {
  size = 0;
  // The inline layout: entries 0 and 1 (id0 < id1), while `ids` is null.
  private id0 = 0;
  private d0 = 0;
  private id1 = 0;
  private d1 = 0;
  private ids: Int32Array | null = null;
  private deadlines: Float64Array | null = null;

  /** `capacity` > 2 starts in the array layout with room for that many. */
  constructor(capacity = 2) {
    if (capacity > 2) {
      this.ids = new Int32Array(capacity);
      this.deadlines = new Float64Array(capacity);
    }
  }

  /** Index of `id` in the arrays, or -(insertion point) - 1. */
  private find(ids: Int32Array, id: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid];
      if (v < id) lo = mid + 1;
      else if (v > id) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  has(id: number): boolean {
    const ids = this.ids;
    if (ids === null) return (this.size > 0 && this.id0 === id) || (this.size > 1 && this.id1 === id);
    return this.find(ids, id) >= 0;
  }

  get(id: number): number | undefined {
    const ids = this.ids;
    if (ids === null) {
      if (this.size > 0 && this.id0 === id) return this.d0;
      if (this.size > 1 && this.id1 === id) return this.d1;
      return undefined;
    }
    const i = this.find(ids, id);
    return i >= 0 ? this.deadlines![i] : undefined;
  }

  set(id: number, deadline: number): this {
    if (this.ids === null) {
      const n = this.size;
      if (n > 0 && this.id0 === id) {
        this.d0 = deadline;
        return this;
      }
      if (n > 1 && this.id1 === id) {
        this.d1 = deadline;
        return this;
      }
      if (n === 0) {
        this.id0 = id;
        this.d0 = deadline;
        this.size = 1;
        return this;
      }
      if (n === 1) {
        if (id > this.id0) {
          this.id1 = id;
          this.d1 = deadline;
        } else {
          this.id1 = this.id0;
          this.d1 = this.d0;
          this.id0 = id;
          this.d0 = deadline;
        }
        this.size = 2;
        return this;
      }
      this.spill();
    }
    const ids = this.ids!;
    let i = this.find(ids, id);
    if (i >= 0) {
      this.deadlines![i] = deadline;
      return this;
    }
    i = -i - 1;
    if (this.size === ids.length) this.resize(ids.length * 2);
    const n = this.size;
    if (i < n) {
      this.ids!.copyWithin(i + 1, i, n);
      this.deadlines!.copyWithin(i + 1, i, n);
    }
    this.ids![i] = id;
    this.deadlines![i] = deadline;
    this.size = n + 1;
    return this;
  }

  delete(id: number): boolean {
    const ids = this.ids;
    if (ids === null) {
      if (this.size > 0 && this.id0 === id) {
        this.id0 = this.id1;
        this.d0 = this.d1;
        this.size--;
        return true;
      }
      if (this.size > 1 && this.id1 === id) {
        this.size = 1;
        return true;
      }
      return false;
    }
    const i = this.find(ids, id);
    if (i < 0) return false;
    const n = this.size;
    ids.copyWithin(i, i + 1, n);
    this.deadlines!.copyWithin(i, i + 1, n);
    this.size = n - 1;
    if (ids.length > 16 && this.size < ids.length >> 2) this.resize(ids.length >> 1);
    return true;
  }

  /** Removes entries due at or before `now`, calling `gone(id)` for each. */
  removeDue(now: number, gone: (id: number) => void): void {
    const ids = this.ids;
    if (ids === null) {
      const n = this.size;
      if (n === 0) return;
      const due0 = this.d0 <= now;
      const due1 = n > 1 && this.d1 <= now;
      const id0 = this.id0;
      const id1 = this.id1;
      if (due0 && due1) {
        this.size = 0;
        gone(id0);
        gone(id1);
      } else if (due0) {
        this.id0 = id1;
        this.d0 = this.d1;
        this.size = n - 1;
        gone(id0);
      } else if (due1) {
        this.size = 1;
        gone(id1);
      }
      return;
    }
    const deadlines = this.deadlines!;
    let w = 0;
    for (let r = 0; r < this.size; r++) {
      if (deadlines[r] <= now) {
        gone(ids[r]);
        continue;
      }
      ids[w] = ids[r];
      deadlines[w] = deadlines[r];
      w++;
    }
    this.size = w;
  }

  /** Earliest deadline, or 0 when empty. */
  minDeadline(): number {
    if (this.ids === null) {
      if (this.size === 0) return 0;
      return this.size > 1 && this.d1 < this.d0 ? this.d1 : this.d0;
    }
    let min = 0;
    const d = this.deadlines!;
    for (let i = 0; i < this.size; i++) if (min === 0 || d[i] < min) min = d[i];
    return min;
  }

  /** Ids in ascending order (a copy: safe to modify the table meanwhile). */
  keys(): number[] {
    if (this.ids === null) return this.size === 0 ? [] : this.size === 1 ? [this.id0] : [this.id0, this.id1];
    return Array.from(this.ids.subarray(0, this.size));
  }

  /** Moves the two inline entries into arrays, for a third. */
  private spill(): void {
    const ids = new Int32Array(4);
    const deadlines = new Float64Array(4);
    ids[0] = this.id0;
    ids[1] = this.id1;
    deadlines[0] = this.d0;
    deadlines[1] = this.d1;
    this.ids = ids;
    this.deadlines = deadlines;
  }

  private resize(capacity: number): void {
    const ids = new Int32Array(capacity);
    const deadlines = new Float64Array(capacity);
    ids.set(this.ids!.subarray(0, this.size));
    deadlines.set(this.deadlines!.subarray(0, this.size));
    this.ids = ids;
    this.deadlines = deadlines;
  }
}
