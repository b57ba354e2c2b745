/**
 * `headend decode [--from ADDR --to ADDR] HEX`: one IGMP or MLD (ICMPv6)
 * message, without its IP header, printed as one JSON object (addresses as
 * text, record types by name and number). A message the codec refuses exits
 * 2 with one line on stderr saying what is wrong and where.
 *
 * IGMP or MLD: told by the family of --from/--to when given, else by the type
 * byte. The ICMPv6 checksum covers a pseudo-header made of the IP source and
 * destination (RFC 4443 §2.3), so an MLD checksum is verified only when both
 * are given; the JSON says whether it was.
 */
import type { Command } from 'commander';

interface DecodeOptions {
  from?: string;
  to?: string;
}

/** Thrown for bad admin input; printed as one line, exit 2. */
class DecodeInputError extends Error {}

/** Hex digits, allowing spaces, colons, dashes and a leading 0x, as copied from tcpdump/Wireshark. */
export function parseHex(text: string): Buffer {
  const digits = text.replace(/^0x/i, '').replace(/[\s:.-]/g, '');
  const bad = digits.search(/[^0-9a-f]/i);
  if (bad >= 0) throw new DecodeInputError(`bad hex: "${digits[bad]}" is not a hex digit`);
  if (digits.length === 0) throw new DecodeInputError('bad hex: no bytes given');
  if (digits.length % 2 !== 0) throw new DecodeInputError(`bad hex: odd number of digits (${digits.length})`);
  return Buffer.from(digits, 'hex');
}

async function decodeAction(hexParts: string[], opts: DecodeOptions): Promise<Record<string, unknown>> {
  const [{ parseAddr, addrFamily, AddressError }, codec] = await Promise.all([
    import('../../membership/addr.js'),
    import('../../membership/codec.js'),
  ]);
  const addr = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    try {
      return parseAddr(text);
    } catch (err) {
      if (err instanceof AddressError) throw new DecodeInputError(`${flag}: ${err.message}`);
      throw err;
    }
  };
  const from = addr('--from', opts.from);
  const to = addr('--to', opts.to);
  if (from !== undefined && to !== undefined && addrFamily(from) !== addrFamily(to)) {
    throw new DecodeInputError('--from and --to are of different address families');
  }
  const payload = parseHex(hexParts.join(''));
  const known = from ?? to;
  const proto = known !== undefined ? (addrFamily(known) === 4 ? 'igmp' : 'mld') : codec.protoOfType(payload[0]) ?? 'igmp';
  const msg = codec.decodeMembership(proto, payload, from, to);
  const checksum = proto === 'igmp' || (from !== undefined && to !== undefined) ? 'ok' : 'not verified (needs --from and --to)';
  return {
    ...codec.messageToJson(msg),
    checksum,
    length: payload.length,
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    ...(opts.to !== undefined ? { to: opts.to } : {}),
  };
}

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode one IGMP or MLD message (no IP header) given in hex, print it as JSON')
    .argument('<hex...>', 'message bytes in hex; spaces and colons allowed')
    .option('--from <addr>', 'IP source address (MLD: needed, with --to, to verify the checksum)')
    .option('--to <addr>', 'IP destination address')
    .addHelpText('after', '\nExample:\n  headend decode --from fe80::1 --to ff02::16 8f00 5bca 0000 0001 0400 0000 ff0e 0000 0000 0000 0000 0000 0001 0001')
    .action(async (hexParts: string[], opts: DecodeOptions) => {
      try {
        process.stdout.write(`${JSON.stringify(await decodeAction(hexParts, opts))}\n`);
      } catch (err) {
        const { CodecError } = await import('../../membership/codec.js');
        if (!(err instanceof CodecError || err instanceof DecodeInputError)) throw err;
        process.stderr.write(`headend decode: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
}
