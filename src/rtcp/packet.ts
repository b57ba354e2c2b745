/**
 * Compound RTCP (RFC 3550 §6) as the receiver statistics need it.
 *
 * Parsing is rtp.js's (the mediasoup team's RTCP stack): it walks the
 * compound packet by each packet's length field and rejects lengths that
 * do not add up. This module narrows its classes to plain data and turns
 * every failure, including rtp.js's own RangeErrors, into one RtcpError that
 * names what was wrong, so the socket edge can count and drop it.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    RC   |   PT=RR=201   |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     SSRC of packet sender                     |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                 SSRC_1 (SSRC of first source)                 |  report
 * | fraction lost |       cumulative number of packets lost       |  block
 * |           extended highest sequence number received           |  (RFC 3550
 * |                      interarrival jitter                      |   §6.4.2)
 * |                         last SR (LSR)                         |
 * |                   delay since last SR (DLSR)                  |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
import {
  ByePacket,
  CompoundPacket,
  ReceiverReportPacket,
  SdesPacket,
  SenderReportPacket,
  isRtcp,
  type ReceptionReport,
} from 'rtp.js/packets';

export class RtcpError extends Error {
  constructor(readonly reason: string) {
    super(`malformed RTCP: ${reason}`);
    this.name = 'RtcpError';
  }
}

/** One report block: what a receiver says about one RTP source it hears. */
export interface ReportBlock {
  /** SSRC of the RTP source the block is about (the headend's stream). */
  source: number;
  /** Fraction of packets lost since the previous report, 0..1 (RFC 3550 §6.4.1: 8-bit fixed point). */
  fractionLost: number;
  /** Cumulative packets lost since reception began (24-bit signed: duplicates can make it negative). */
  cumulativeLost: number;
  highestSeq: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
}

export interface ReceiverReport {
  /** SSRC of the receiver that sent the report. */
  reporter: number;
  /** SR (a sender that also receives) or RR. */
  kind: 'sr' | 'rr';
  blocks: ReportBlock[];
}

export interface SdesInfo { ssrc: number; cname?: string; name?: string; tool?: string }

export interface ParsedRtcp {
  reports: ReceiverReport[];
  sdes: SdesInfo[];
  /** SSRCs that said goodbye (RFC 3550 §6.6). */
  byes: number[];
  /** Packets of other types (APP, feedback, XR), skipped by their length. */
  skipped: number;
}

const SDES_CNAME = 1;
const SDES_NAME = 2;
const SDES_TOOL = 6;

function blockOf(r: ReceptionReport): ReportBlock {
  // rtp.js 0.15.5 getTotalLost() masks the field to 12 bits (0x0fff), so any
  // loss above 4095 packets and every negative value would come out wrong;
  // read the 24-bit two's complement field (block bytes 5..7) ourselves.
  const view = r.getView();
  const total = (view.getUint8(5) << 16) | (view.getUint8(6) << 8) | view.getUint8(7);
  return {
    source: r.getSsrc(),
    fractionLost: r.getFractionLost() / 256,
    cumulativeLost: total & 0x800000 ? total - 0x1000000 : total,
    highestSeq: r.getHighestSeqNumber(),
    jitter: r.getJitter(),
  };
}

/** Parses one compound RTCP datagram. Throws RtcpError, nothing else. */
export function parseRtcp(datagram: Buffer): ParsedRtcp {
  if (datagram.length < 8) throw new RtcpError(`datagram of ${datagram.length} bytes, a header needs 8`);
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (!isRtcp(view)) throw new RtcpError('first packet is not version 2 with an RTCP packet type (192..223)');
  let compound: CompoundPacket;
  try {
    compound = new CompoundPacket(view);
  } catch (err) {
    throw new RtcpError((err as Error).message);
  }
  const out: ParsedRtcp = { reports: [], sdes: [], byes: [], skipped: 0 };
  try {
    for (const packet of compound.getPackets()) {
      if (packet instanceof ReceiverReportPacket) {
        out.reports.push({ reporter: packet.getSsrc(), kind: 'rr', blocks: packet.getReports().map(blockOf) });
      } else if (packet instanceof SenderReportPacket) {
        out.reports.push({ reporter: packet.getSsrc(), kind: 'sr', blocks: packet.getReports().map(blockOf) });
      } else if (packet instanceof SdesPacket) {
        for (const chunk of packet.getChunks()) {
          const info: SdesInfo = { ssrc: chunk.getSsrc() };
          for (const item of chunk.getItems()) {
            if (item.type === SDES_CNAME) info.cname = item.text;
            else if (item.type === SDES_NAME) info.name = item.text;
            else if (item.type === SDES_TOOL) info.tool = item.text;
          }
          out.sdes.push(info);
        }
      } else if (packet instanceof ByePacket) {
        out.byes.push(...packet.getSsrcs());
      } else {
        out.skipped++;
      }
    }
  } catch (err) {
    throw new RtcpError((err as Error).message);
  }
  return out;
}
