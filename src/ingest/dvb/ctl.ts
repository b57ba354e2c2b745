/**
 * dvblastctl, the control tool that talks to a running dvblast over its
 * `-r` socket: `reload` (re-read the config file) and the demux tables
 * (`-x xml get_sdt`); shutdown goes through the supervisor instead (pool.ts).
 * The XML is parsed here, purely; running the tool sits behind the small
 * DvblastControl interface so the pool can be tested without it.
 */
import { execFile } from 'node:child_process';
import { XMLParser } from 'fast-xml-parser';

/** One service of the SDT (EN 300 468 §5.2.3) with its service_descriptor (0x48) names. */
export interface SdtService {
  serviceId: number;
  /** service_name of the service_descriptor; '' when absent. */
  name: string;
  /** service_provider_name; '' when absent. */
  provider: string;
  /** service_type (0x01 TV, 0x02 radio, 0x19 HD TV ...), when present. */
  type?: number;
  /** running_status: 4 = running. */
  running?: number;
  scrambled?: boolean;
}

export class DvblastctlError extends Error {
  constructor(readonly socket: string, readonly command: string, readonly reason: string) {
    super(`dvblastctl ${command} [socket:${socket}]: ${reason}`);
    this.name = 'DvblastctlError';
  }
}

/** What the pool needs from dvblastctl. */
export interface DvblastControl {
  reload(socket: string): Promise<void>;
  sdt(socket: string): Promise<SdtService[]>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  isArray: (name) => name === 'SERVICE' || name === 'DESC',
});

type Attrs = Record<string, unknown>;

function intAttr(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const n = v.startsWith('0x') ? Number.parseInt(v.slice(2), 16) : Number(v);
  return Number.isInteger(n) ? n : undefined;
}

/** The services in `dvblastctl -x xml get_sdt` output; throws an Error saying what is missing on anything else. */
export function parseSdtXml(xml: string): SdtService[] {
  let doc: Attrs;
  try {
    doc = parser.parse(xml) as Attrs;
  } catch (err) {
    throw new Error(`get_sdt: not XML: ${(err as Error).message}`);
  }
  const sdt = doc.SDT as Attrs | undefined;
  if (!sdt || typeof sdt !== 'object') {
    const error = (doc.ERROR as Attrs | undefined)?.msg;
    throw new Error(`get_sdt: ${typeof error === 'string' ? error : 'no SDT element'}`);
  }
  const out: SdtService[] = [];
  for (const s of (sdt.SERVICE as Attrs[] | undefined) ?? []) {
    const serviceId = intAttr(s.sid);
    if (serviceId === undefined) continue; // a service without its id names nothing
    const svc: SdtService = { serviceId, name: '', provider: '' };
    const running = intAttr(s.running);
    if (running !== undefined) svc.running = running;
    if (s.free_CA !== undefined) svc.scrambled = s.free_CA === '1';
    for (const d of (s.DESC as Attrs[] | undefined) ?? []) {
      const sd = d.SERVICE_DESC as Attrs | undefined;
      if (!sd) continue;
      if (typeof sd.service === 'string') svc.name = sd.service;
      if (typeof sd.provider === 'string') svc.provider = sd.provider;
      const type = intAttr(sd.type);
      if (type !== undefined) svc.type = type;
    }
    out.push(svc);
  }
  return out;
}

/** dvblastctl prints failures as `<ERROR msg="No data"/>` (xml) or `ERROR: No data` (text), on stdout or stderr. */
function errorText(stdout: string, stderr: string, fallback: string): string {
  const both = `${stdout}\n${stderr}`;
  const xml = /<ERROR msg="([^"]*)"/.exec(both);
  if (xml) return xml[1]!;
  const text = /ERROR: (.*)/.exec(both);
  if (text) return text[1]!.trim();
  return stderr.trim().split('\n').pop() || fallback;
}

/** The real dvblastctl, run as a child with a deadline. */
export class DvblastctlRunner implements DvblastControl {
  constructor(private readonly opts: { command: string; timeoutMs: number; prefix?: string[] }) {}

  private run(socket: string, args: string[]): Promise<string> {
    const seconds = Math.max(1, Math.ceil(this.opts.timeoutMs / 1000));
    const [cmd, ...pre] = [...(this.opts.prefix ?? []), this.opts.command];
    const full = [...pre, '-r', socket, '-t', String(seconds), '-x', 'xml', ...args];
    return new Promise((resolve, reject) => {
      execFile(cmd!, full, { timeout: this.opts.timeoutMs, encoding: 'utf8', maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          const reason = e.killed ? `no answer within ${this.opts.timeoutMs} ms` : errorText(stdout, stderr, e.message);
          reject(new DvblastctlError(socket, args.join(' '), reason));
          return;
        }
        resolve(stdout);
      });
    });
  }

  async reload(socket: string): Promise<void> { await this.run(socket, ['reload']); }

  async sdt(socket: string): Promise<SdtService[]> {
    const xml = await this.run(socket, ['get_sdt']);
    try {
      return parseSdtXml(xml);
    } catch (err) {
      throw new DvblastctlError(socket, 'get_sdt', (err as Error).message);
    }
  }
}
