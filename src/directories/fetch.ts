/**
 * Reading a directory from a file or a URL, bounded: at most `maxBytes`, at
 * most `timeoutMs` for the whole transfer (undici, redirects followed up to 5).
 */
import { open } from 'node:fs/promises';
import { Agent, interceptors, request } from 'undici';

export interface SourceLimits {
  maxBytes: number;
  timeoutMs: number;
  userAgent: string;
}

export class SourceError extends Error {
  constructor(readonly source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.name = 'SourceError';
  }
}

export const isUrl = (source: string) => /^https?:\/\//i.test(source);

let agent: ReturnType<Agent['compose']> | undefined;
function redirectingAgent() {
  agent ??= new Agent().compose(interceptors.redirect({ maxRedirections: 5 }));
  return agent;
}

export async function readSource(source: string, limits: SourceLimits): Promise<string> {
  return isUrl(source) ? fetchText(source, limits) : readFileBounded(source, limits.maxBytes);
}

async function readFileBounded(path: string, maxBytes: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new SourceError(path, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw new SourceError(path, `${size} bytes, more than directories.maxBytes (${maxBytes})`);
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function fetchText(url: string, limits: SourceLimits): Promise<string> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const res = await request(url, {
      dispatcher: redirectingAgent(),
      headers: { 'user-agent': limits.userAgent, accept: '*/*' },
      signal,
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
    });
    if (res.statusCode < 200 || res.statusCode > 299) {
      await res.body.dump();
      throw new SourceError(url, `HTTP ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      res.body.destroy();
      throw new SourceError(url, `${declared} bytes, more than directories.maxBytes (${limits.maxBytes})`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length;
      if (total > limits.maxBytes) {
        res.body.destroy();
        throw new SourceError(url, `more than directories.maxBytes (${limits.maxBytes}) bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof SourceError) throw err;
    if (signal.aborted) throw new SourceError(url, `no complete answer within directories.timeoutMs (${limits.timeoutMs} ms)`);
    throw new SourceError(url, (err as Error).message);
  }
}
