/**
 * Carriers and how dvblast tunes them, pure: a DvbTuning in, a carrier name,
 * an "may this tuner take it" answer and dvblast's command line out.
 *
 * A carrier is one transponder: (frequency, polarisation) on the dish a tuner
 * sees. Every service of that carrier's transport stream can be output by the
 * one dvblast process tuned to it, so the pool keys carriers by that pair
 * (PROTOCOLS.md §4 packs the same pair into the service number).
 */
import type { DvbAdapterConfig } from '../../config.js';
import type { DvbTuning, Polarisation } from '../../store/types.js';

export type { DvbTuning, Polarisation };

/** `11362000H`: the carrier's name in logs, status and errors, and the pool's key. */
export function carrierKey(t: Pick<DvbTuning, 'frequencyKhz' | 'polarisation'>): string {
  return `${t.frequencyKhz}${t.polarisation}`;
}

/** `11362000H DVBS2 22000000 2/3 PSK_8`: everything a tuner is told. */
export function describeTuning(t: DvbTuning): string {
  return `${carrierKey(t)} ${t.system} ${t.symbolRate} ${t.fec} ${t.modulation}`;
}

/** An allow-list entry of `dvb.adapters[].carriers`: `11362000H`, `10700000-11700000`, `10700000-11700000HV`. */
export interface CarrierRange { fromKhz: number; toKhz: number; polarisations: Set<Polarisation> | null }

export function parseCarrierRange(text: string): CarrierRange {
  const m = /^(\d{1,9})(?:-(\d{1,9}))?([HVLR]{0,4})$/.exec(text);
  if (!m) throw new Error(`not a carrier range: ${JSON.stringify(text)} (FREQ_KHZ[POL] or FROM-TO[POLS])`);
  const fromKhz = Number(m[1]);
  const toKhz = m[2] === undefined ? fromKhz : Number(m[2]);
  const pols = m[3] ? new Set([...m[3]] as Polarisation[]) : null;
  return { fromKhz: Math.min(fromKhz, toKhz), toKhz: Math.max(fromKhz, toKhz), polarisations: pols };
}

/** True when the adapter's allow-list (empty = anything) covers this carrier. */
export function mayTune(adapter: Pick<DvbAdapterConfig, 'carriers'>, t: Pick<DvbTuning, 'frequencyKhz' | 'polarisation'>): boolean {
  if (adapter.carriers.length === 0) return true;
  return adapter.carriers.some((text) => {
    const r = parseCarrierRange(text);
    return t.frequencyKhz >= r.fromKhz && t.frequencyKhz <= r.toKhz && (r.polarisations === null || r.polarisations.has(t.polarisation));
  });
}

/**
 * LNB supply voltage selects the polarisation: 18 V for horizontal and
 * circular-left, 13 V for vertical and circular-right (EN 50494 / DiSEqC
 * convention; dvblast -v).
 */
export function lnbVoltage(p: Polarisation): 13 | 18 {
  return p === 'H' || p === 'L' ? 18 : 13;
}

/** dvblast -F takes the fraction without its slash (3/4 → 34); 'auto' is 999. */
export function dvblastFec(fec: string): string {
  if (fec === 'auto' || fec === '') return '999';
  const m = /^(\d{1,2})\/(\d{1,2})$/.exec(fec);
  if (!m) throw new Error(`tuning.fec: not a code rate like 3/4 or auto: ${JSON.stringify(fec)}`);
  return `${m[1]}${m[2]}`;
}

/** dvblast -6: a bitrate line this often (the pool's silence detector). */
export const PRINT_PERIOD_MS = 1000;

export interface DvblastFiles {
  /** dvblast's config file (one output per service), rewritten on every change. */
  configFile: string;
  /** dvblast's control socket, for dvblastctl. */
  socket: string;
}

/**
 * dvblast's command line for one carrier on one tuner. `-x xml` makes dvblast
 * print its events on stdout (`<STATUS type="lock" status="1"/>`), which is
 * how the pool learns lock: a card reports the frontend's lock, the UDP
 * input reports lock at its first TS packet and loses it after 5 s without
 * one; `-6 1000` adds a bitrate line every second. `-q` leaves warnings
 * and errors on stderr, for the log. `-L` (dvb.outputLatencyMs) bounds how
 * long dvblast holds TS packets to fill an RTP packet: with its default
 * 100 ms an audio-only service took ~200 ms from join to first packet.
 */
export function dvblastArgs(adapter: DvbAdapterConfig, t: DvbTuning, files: DvblastFiles, outputLatencyMs = 30): string[] {
  const common = ['-q', '-x', 'xml', '-c', files.configFile, '-r', files.socket, '-6', String(PRINT_PERIOD_MS), '-L', String(outputLatencyMs)];
  if (adapter.kind === 'udp') return ['-D', adapter.input, ...common];
  const args = [
    '-a', String(adapter.adapter),
    '-n', String(adapter.frontend),
    '-f', String(t.frequencyKhz),
    '-v', String(lnbVoltage(t.polarisation)),
    '-5', t.system,
    '-s', String(t.symbolRate),
    '-F', dvblastFec(t.fec),
    '-8', adapter.lnb,
  ];
  // DVB-S is always QPSK; dvblast's -m only means something for DVB-S2.
  if (t.system === 'DVBS2') args.push('-m', t.modulation.toLowerCase());
  if (adapter.diseqc > 0) args.push('-S', String(adapter.diseqc));
  if (adapter.uncommitted > 0) args.push('-k', String(adapter.uncommitted));
  return [...args, ...common];
}
