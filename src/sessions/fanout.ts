/**
 * A session's stream across the interfaces its listeners are on.
 *
 * ffmpeg's RTP output and a dvblast output line each leave from one
 * interface (the one `localaddr` / `ifindex` names), so a group wanted on
 * lan0 and lan1 at once either runs one stream per interface (radio: each
 * with its own ffmpeg and SAP from that link's address), or, where the
 * source can output a group only once (the DVB tuner pool), keeps one stream
 * and moves it to where the listeners are when its interface empties.
 *
 * Any stream failing fails the session (the driver stops the rest and the
 * session retries as a whole); the first stream going live makes it live.
 */
import type { Logger } from '../log.js';
import type { RunningStream, StreamHooks } from './driver.js';

export interface InterfaceStream extends RunningStream {
  sdp(): string | undefined;
  readonly pid: number | undefined;
}

export type StartOnInterface<S extends InterfaceStream> = (iface: string, hooks: StreamHooks) => S;

/** Told when a stream starts on an interface and when it is gone from it (e.g. to listen for RTCP there). */
export interface InterfaceEdges {
  added(iface: string): void;
  removed(iface: string): void;
}

export class InterfaceFanout<S extends InterfaceStream> implements RunningStream {
  private readonly streams = new Map<string, S>();
  private readonly leaving = new Set<Promise<void>>();
  private stopped = false;
  private wentLive = false;

  /** Starts on `ifaces` (all of them, or the first when not perInterface); throws if the first start throws. */
  constructor(
    private readonly startOn: StartOnInterface<S>,
    ifaces: string[],
    private readonly hooks: StreamHooks,
    private readonly perInterface: boolean,
    private readonly log: Logger,
    private readonly edges?: InterfaceEdges,
  ) {
    const [first, ...rest] = ifaces;
    if (first === undefined) throw new Error('no interface with listeners');
    this.add(first);
    if (perInterface) for (const iface of rest) this.addSafely(iface);
  }

  /** The stream of the first interface still served (status, SDP, pid). */
  primary(): S | undefined {
    return this.streams.values().next().value;
  }

  /** Interfaces served now, first served first. */
  interfaces(): string[] {
    return [...this.streams.keys()];
  }

  retarget(ifaces: string[]): void {
    if (this.stopped) return;
    if (this.perInterface) {
      for (const iface of ifaces) if (!this.streams.has(iface)) this.addSafely(iface);
      for (const iface of [...this.streams.keys()]) if (!ifaces.includes(iface)) void this.remove(iface, `no listener left on ${iface}`);
      return;
    }
    const current = this.interfaces()[0];
    if (current !== undefined && ifaces.includes(current)) return;
    const target = ifaces[0];
    if (target === undefined) return;
    this.log.info({ from: current, to: target }, 'listeners moved: moving the stream');
    // One output per group: the old one must be gone (output line, SAP) before the new one starts.
    const gone = current !== undefined ? this.remove(current, `listeners moved to ${target}`) : Promise.resolve();
    void gone.then(() => {
      if (!this.stopped && this.streams.size === 0) this.addSafely(target);
    });
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    const all = [...this.streams.keys()].map((iface) => this.remove(iface, reason));
    await Promise.all([...all, ...this.leaving]);
  }

  private add(iface: string): void {
    let stream: S | undefined;
    const hooks: StreamHooks = {
      live: () => {
        if (this.wentLive || this.streams.get(iface) !== stream) return;
        this.wentLive = true;
        this.hooks.live();
      },
      failed: (error) => {
        if (this.streams.get(iface) !== stream || this.stopped) return;
        this.hooks.failed(this.streams.size > 1 ? `${iface}: ${error}` : error);
      },
    };
    stream = this.startOn(iface, hooks);
    this.streams.set(iface, stream);
    this.tell('added', iface);
  }

  /** An observer that throws must not break the session. */
  private tell(edge: keyof InterfaceEdges, iface: string): void {
    try {
      this.edges?.[edge](iface);
    } catch (err) {
      this.log.error({ iface, edge, err }, 'interface observer failed');
    }
  }

  /** A start after the first: a throw (no address on that interface ...) fails the session, as a failed stream would. */
  private addSafely(iface: string): void {
    try {
      this.add(iface);
    } catch (err) {
      this.log.error({ iface, err }, 'cannot start the stream on this interface');
      queueMicrotask(() => { if (!this.stopped) this.hooks.failed(`${iface}: ${(err as Error).message}`); });
    }
  }

  private remove(iface: string, reason: string): Promise<void> {
    const stream = this.streams.get(iface);
    if (!stream) return Promise.resolve();
    this.streams.delete(iface);
    const p = stream.stop(reason)
      .catch((err: unknown) => this.log.error({ iface, err }, 'stream stop failed'))
      .finally(() => this.tell('removed', iface));
    this.leaving.add(p);
    void p.finally(() => this.leaving.delete(p));
    return p;
  }
}
