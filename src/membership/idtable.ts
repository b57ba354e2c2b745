/**
 * A small sorted map from host id (int32) to deadline (ms). It stands in for
 * Map<number, number> where a group keeps its hosts.
 *
 * Two layouts, by size, both for the same reason: on the hot path each table
 * touched is a cache miss (10k groups are visited at random), so what counts
 * is how many objects one lookup reads.
 * - Up to two entries (most sources of most groups: a few hosts each) live in
 *   the table's own fields, sorted: one object, no arrays.
 * - From the third entry on, all entries move to one Float64Array of
 *   (id, deadline) pairs, found by binary search: 16 bytes an entry instead
 *   of ~40 for a Map, and the deadline next to its id (one array, one chain
 *   of pointers to follow, not two). 10k groups x 100 hosts is 1M entries;
 *   this layout is what keeps them in tens of MB (bench/membership.bench.ts
 *   measures it).
 * A table that has spilled stays spilled (its arrays shrink as it empties).
 */
export class IdTable {
  size = 0;
  // The inline layout: entries 0 and 1 (id0 < id1), while `pairs` is null.
  private id0 = 0;
  private d0 = 0;
  private id1 = 0;
  private d1 = 0;
  /** The array layout: [id, deadline] at 2i, 2i+1, sorted by id. */
  private pairs: Float64Array | null = null;

  /** `capacity` > 2 starts in the array layout with room for that many. */
  constructor(capacity = 2) {
    if (capacity > 2) this.pairs = new Float64Array(2 * capacity);
  }

  /** Entry index of `id` in `pairs`, or -(insertion point) - 1. */
  private find(pairs: Float64Array, id: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = pairs[2 * mid];
      if (v < id) lo = mid + 1;
      else if (v > id) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  has(id: number): boolean {
    const pairs = this.pairs;
    if (pairs === null) return (this.size > 0 && this.id0 === id) || (this.size > 1 && this.id1 === id);
    return this.find(pairs, id) >= 0;
  }

  get(id: number): number | undefined {
    const pairs = this.pairs;
    if (pairs === null) {
      if (this.size > 0 && this.id0 === id) return this.d0;
      if (this.size > 1 && this.id1 === id) return this.d1;
      return undefined;
    }
    const i = this.find(pairs, id);
    return i >= 0 ? pairs[2 * i + 1] : undefined;
  }

  set(id: number, deadline: number): this {
    if (this.pairs === null) {
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
    let pairs = this.pairs!;
    let i = this.find(pairs, id);
    if (i >= 0) {
      pairs[2 * i + 1] = deadline;
      return this;
    }
    i = -i - 1;
    const n = this.size;
    if (2 * n === pairs.length) pairs = this.resize(n * 2);
    if (i < n) pairs.copyWithin(2 * i + 2, 2 * i, 2 * n);
    pairs[2 * i] = id;
    pairs[2 * i + 1] = deadline;
    this.size = n + 1;
    return this;
  }

  delete(id: number): boolean {
    const pairs = this.pairs;
    if (pairs === null) {
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
    const i = this.find(pairs, id);
    if (i < 0) return false;
    const n = this.size;
    pairs.copyWithin(2 * i, 2 * i + 2, 2 * n);
    this.size = n - 1;
    const capacity = pairs.length >> 1;
    if (capacity > 16 && this.size < capacity >> 2) this.resize(capacity >> 1);
    return true;
  }

  /** Removes entries due at or before `now`, calling `gone(id)` for each, in id order. */
  removeDue(now: number, gone: (id: number) => void): void {
    const pairs = this.pairs;
    if (pairs === null) {
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
    let w = 0;
    for (let r = 0; r < this.size; r++) {
      if (pairs[2 * r + 1] <= now) {
        gone(pairs[2 * r]);
        continue;
      }
      pairs[2 * w] = pairs[2 * r];
      pairs[2 * w + 1] = pairs[2 * r + 1];
      w++;
    }
    this.size = w;
  }

  /** Earliest deadline, or 0 when empty. */
  minDeadline(): number {
    const pairs = this.pairs;
    if (pairs === null) {
      if (this.size === 0) return 0;
      return this.size > 1 && this.d1 < this.d0 ? this.d1 : this.d0;
    }
    let min = 0;
    for (let i = 0; i < this.size; i++) {
      const d = pairs[2 * i + 1];
      if (min === 0 || d < min) min = d;
    }
    return min;
  }

  /** Ids in ascending order (a copy: safe to modify the table meanwhile). */
  keys(): number[] {
    const pairs = this.pairs;
    if (pairs === null) return this.size === 0 ? [] : this.size === 1 ? [this.id0] : [this.id0, this.id1];
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(pairs[2 * i]);
    return out;
  }

  /** Moves the two inline entries into the array, for a third. */
  private spill(): void {
    const pairs = new Float64Array(8);
    pairs[0] = this.id0;
    pairs[1] = this.d0;
    pairs[2] = this.id1;
    pairs[3] = this.d1;
    this.pairs = pairs;
  }

  private resize(capacity: number): Float64Array {
    const pairs = new Float64Array(2 * capacity);
    pairs.set(this.pairs!.subarray(0, 2 * this.size));
    this.pairs = pairs;
    return pairs;
  }
}
