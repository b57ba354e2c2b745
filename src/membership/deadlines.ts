/**
 * The one deadline structure behind every membership timer.
 *
 * Each owner (a group's state on an interface, or an interface's querier)
 * keeps its own timers as plain numbers and is woken once, at the earliest of
 * them (`wakeAt`). A timer pushed LATER than the owner's wake needs no heap
 * work at all, which is the common case: a refreshing report moves timers
 * forward. Only a timer that moves earlier (LMQT lowering, a new owner)
 * pushes an entry. Entries are invalidated lazily: an entry whose time is not
 * its owner's current `wakeAt`, or whose owner is gone, is skipped when it
 * surfaces. When stale entries outnumber live owners the heap is rebuilt, so
 * memory stays proportional to the state kept, not to the packets seen.
 *
 * This is the sweep smcroute uses (`expire(now)`), not a closure per entry.
 */

export interface DeadlineOwner {
  /** Absolute ms this owner is scheduled for in the heap; 0 = not scheduled. */
  wakeAt: number;
  /** False once the owner's state is deleted: its entries are stale. */
  alive: boolean;
}

export class DeadlineHeap<T extends DeadlineOwner> {
  // Parallel arrays: cheaper than an object per entry.
  private ats: number[] = [];
  private seqs: number[] = [];
  private owners: T[] = [];
  private seq = 0;
  /** Owners currently scheduled (alive, wakeAt != 0): bounds the stale share. */
  private live = 0;

  get size(): number {
    return this.ats.length;
  }

  /**
   * Makes `owner` wake no later than `at`. Cheap when the owner is already
   * scheduled earlier, which is what keeps refreshes off the heap.
   */
  schedule(owner: T, at: number): void {
    if (owner.wakeAt !== 0 && owner.wakeAt <= at) return;
    if (owner.wakeAt === 0) this.live++;
    owner.wakeAt = at;
    this.push(at, owner);
    if (this.ats.length > 1024 && this.ats.length > 4 * this.live) this.compact();
  }

  /** Forgets the owner's schedule (call when the owner is deleted or fired). */
  unschedule(owner: T): void {
    if (owner.wakeAt !== 0) this.live--;
    owner.wakeAt = 0;
  }

  /** Earliest valid deadline, dropping stale entries on the way. */
  peek(): number | undefined {
    while (this.ats.length > 0) {
      const owner = this.owners[0];
      if (owner.alive && owner.wakeAt === this.ats[0]) return this.ats[0];
      this.popTop();
    }
    return undefined;
  }

  /**
   * Removes and returns the earliest valid owner due at or before `now`
   * (its schedule cleared), or undefined; `peek()` just before gives its
   * time. Ties leave in scheduling order, so runs are deterministic.
   */
  takeDue(now: number): T | undefined {
    const at = this.peek();
    if (at === undefined || at > now) return undefined;
    const owner = this.owners[0];
    this.popTop();
    this.unschedule(owner);
    return owner;
  }

  private push(at: number, owner: T): void {
    const ats = this.ats;
    const seqs = this.seqs;
    const owners = this.owners;
    const seq = this.seq++;
    let i = ats.length;
    ats.push(at);
    seqs.push(seq);
    owners.push(owner);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ats[p] < at || (ats[p] === at && seqs[p] < seq)) break;
      ats[i] = ats[p];
      seqs[i] = seqs[p];
      owners[i] = owners[p];
      i = p;
    }
    ats[i] = at;
    seqs[i] = seq;
    owners[i] = owner;
  }

  private popTop(): void {
    const ats = this.ats;
    const seqs = this.seqs;
    const owners = this.owners;
    const lastAt = ats.pop()!;
    const lastSeq = seqs.pop()!;
    const lastOwner = owners.pop()!;
    const n = ats.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (ats[r] < ats[l] || (ats[r] === ats[l] && seqs[r] < seqs[l])) ? r : l;
      if (lastAt < ats[c] || (lastAt === ats[c] && lastSeq < seqs[c])) break;
      ats[i] = ats[c];
      seqs[i] = seqs[c];
      owners[i] = owners[c];
      i = c;
    }
    ats[i] = lastAt;
    seqs[i] = lastSeq;
    owners[i] = lastOwner;
  }

  /** Rebuilds the heap from its valid entries only. */
  private compact(): void {
    const entries: Array<[number, number, T]> = [];
    for (let i = 0; i < this.ats.length; i++) {
      const owner = this.owners[i];
      if (owner.alive && owner.wakeAt === this.ats[i]) entries.push([this.ats[i], this.seqs[i], owner]);
    }
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    // A sorted array is a valid binary heap.
    this.ats = entries.map((e) => e[0]);
    this.seqs = entries.map((e) => e[1]);
    this.owners = entries.map((e) => e[2]);
    this.live = entries.length;
  }
}
