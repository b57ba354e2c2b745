// The one RTCP-sending client the lab has, and a lossy way in for it, for the
// e2e tests that need receiver reports. Why GStreamer's rtpbin and not
// ffplay/VLC: see test/e2e/rtcp.test.ts. Why nftables and not netem: this
// kernel has no netem, and dropping on the headend's output would hand ffmpeg
// EPERM on send.
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../helpers/netns.js';

/**
 * rtpbin in `ns` receiving the group's MPA RTP on `iface` (port 5004) and
 * sending receiver reports to [group]:5005, as RFC 3550 §6 has receivers do.
 * udpsrc joins any-source.
 */
export function gstRtcpClient(ns: Netns, group: string, iface = 'eth0'): ChildProcess {
  return ns.spawn('gst-launch-1.0', ['-q', 'rtpbin', 'name=rb',
    'udpsrc', `address=${group}`, 'port=5004', `multicast-iface=${iface}`,
    'caps=application/x-rtp,media=audio,clock-rate=90000,encoding-name=MPA,payload=14', '!', 'rb.recv_rtp_sink_0',
    'rb.', '!', 'rtpmpadepay', '!', 'fakesink',
    'udpsrc', `address=${group}`, 'port=5005', `multicast-iface=${iface}`, '!', 'rb.recv_rtcp_sink_0',
    'rb.send_rtcp_src_0', '!', 'udpsink', `host=${group}`, 'port=5005', `multicast-iface=${iface}`, 'ttl-mc=1', 'sync=false', 'async=false']);
}

/** Drops one RTP packet in five (UDP to port 5004) on `ns`'s input hook: nftables' numgen. */
export async function dropRtpOneInFive(ns: Netns): Promise<void> {
  await ns.exec('nft', ['-f', '-'], { input: [
    'table inet loss {',
    '  chain in {',
    '    type filter hook input priority 0;',
    '    udp dport 5004 numgen random mod 5 == 0 drop',
    '  }',
    '}',
  ].join('\n') + '\n' });
}
