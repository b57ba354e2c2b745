/**
 * The "floating point" codes of IGMPv3 and MLDv2: Max Resp Code and QQIC.
 *
 *   8-bit (IGMP MRC, IGMP QQIC, MLD QQIC), RFC 9776 §4.1.1 / §4.1.7, RFC 9777 §5.1.9:
 *     code < 128: the value itself
 *     code >= 128:  0 1 2 3 4 5 6 7        value = (mant | 0x10) << (exp + 3)
 *                  +-+-+-+-+-+-+-+-+
 *                  |1| exp |  mant |
 *                  +-+-+-+-+-+-+-+-+
 *   16-bit (MLD Maximum Response Code, milliseconds), RFC 9777 §5.1.3:
 *     code < 32768: the value itself
 *     code >= 32768: |1| exp(3) | mant(12) |  value = (mant | 0x1000) << (exp + 3)
 *
 * Units are the field's own: IGMP MRC in tenths of a second, MLD MRC in
 * milliseconds, QQIC in seconds.
 *
 * Encoding a value that has no exact code ROUNDS UP to the next representable
 * value: a host then gets at least the response time we meant, and a querier
 * never announces an interval shorter than the one it keeps. Values above the
 * largest representable one are a RangeError (config validation should stop
 * them earlier).
 */

export type FloatCodeKind = 'igmp-mrc' | 'mld-mrc' | 'qqic';

interface Layout { literalBelow: number; mantBits: number; max: number }

const LAYOUTS: Record<FloatCodeKind, Layout> = {
  'igmp-mrc': { literalBelow: 0x80, mantBits: 4, max: 0x1f << 10 },
  qqic: { literalBelow: 0x80, mantBits: 4, max: 0x1f << 10 },
  'mld-mrc': { literalBelow: 0x8000, mantBits: 12, max: 0x1fff << 10 },
};

/** Largest value a code of this kind can express (31744 for 8-bit, 8387584 for MLD MRC). */
export function maxFloatCodeValue(kind: FloatCodeKind = 'igmp-mrc'): number {
  return LAYOUTS[kind].max;
}

/** Code (as on the wire) to value in the field's units. */
export function decodeMaxRespCode(code: number, kind: FloatCodeKind = 'igmp-mrc'): number {
  const { literalBelow, mantBits } = LAYOUTS[kind];
  if (code < literalBelow) return code;
  const mant = code & ((1 << mantBits) - 1);
  const exp = (code >> mantBits) & 0x7;
  return (mant | (1 << mantBits)) * 2 ** (exp + 3);
}

/** Value in the field's units to the smallest code whose value is >= it (exact when representable). */
export function encodeMaxRespCode(value: number, kind: FloatCodeKind = 'igmp-mrc'): number {
  const { literalBelow, mantBits, max } = LAYOUTS[kind];
  if (!(value >= 0) || value > max) {
    throw new RangeError(`${kind} value ${value} out of range 0..${max}`);
  }
  const v = Math.ceil(value);
  if (v < literalBelow) return v;
  const hidden = 1 << mantBits;
  for (let exp = 0; exp < 8; exp++) {
    const mant = Math.ceil(v / 2 ** (exp + 3));
    // Rounding up may carry into the next exponent (mant === 2 * hidden).
    if (mant < 2 * hidden) return literalBelow | (exp << mantBits) | (mant - hidden);
  }
  /* c8 ignore next */
  throw new RangeError(`${kind} value ${value} out of range 0..${max}`);
}

/** QQIC (seconds), RFC 9776 §4.1.7 / RFC 9777 §5.1.9: same 8-bit code as IGMP MRC. */
export function decodeQqic(code: number): number {
  return decodeMaxRespCode(code, 'qqic');
}

export function encodeQqic(seconds: number): number {
  return encodeMaxRespCode(seconds, 'qqic');
}
