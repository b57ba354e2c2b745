// A DVB service announced: the SAP/SDP carries MP2T (payload type 33) and
// the service name from the carrier's SDT, and a client that knows nothing
// but the group plays it with `ffprobe sap://[group]:9875`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { canUseNetns } from '../helpers/netns.js';
import { decodeSap } from '../../src/announce/sap.js';
import { parseSdp } from '../../src/announce/sdp.js';
import { CARRIER_X, PROVIDER, SERVICES, startTsSource, waitFor, withDvbLab } from '../ingest/dvb/lab.js';

const GROUP = 'ff3e:40:2001:db8:1:0:8001:3e9';
const SCRIPT = fileURLToPath(new URL('../ingest/dvb/serve-one.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
// In the client's namespace: join the group, print one SAP packet as hex.
const SAP_ONE = `
const [group, iface] = process.argv.slice(1);
const s = require('node:dgram').createSocket({ type: 'udp6', reuseAddr: true });
s.on('message', (m) => { process.stdout.write(m.toString('hex')); process.exit(0); });
s.bind(9875, group, () => s.addMembership(group, '::%' + iface));
`;

test('SAP for a DVB service: PT 33, named from the SDT, played by ffprobe from the group alone', { skip: !canUseNetns() && 'needs root and iproute2' }, () => withDvbLab(
  { adapters: [] }, {},
  async ({ hd, cl, runDir }) => {
    await hd.exec('ip', ['addr', 'add', '2001:db8::1/64', 'dev', 'lan0', 'nodad']);
    await cl.exec('ip', ['addr', 'add', '2001:db8::2/64', 'dev', 'eth0', 'nodad']);
    startTsSource(hd, 41800);
    const args = { runDir, input: '127.0.0.1:41800/udp', group: GROUP, serviceId: SERVICES.alpha.serviceId, name: 'Channel A', tuning: CARRIER_X, address: '2001:db8::1' };
    const headend = hd.spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(args)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: headend.stdout! }).on('line', (l) => lines.push(l));
    await waitFor(() => lines.some((l) => l.startsWith('named ')), 15_000, 'service live and named');
    assert.deepEqual(lines.slice(0, 2), ['live', `named ${SERVICES.alpha.name}`]);

    const out = await cl.exec('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', `sap://[${GROUP}]:9875`], { timeoutMs: 20_000 });
    const probe = JSON.parse(out) as { streams: Array<{ codec_name: string }> };
    // MPEG audio: the PMT's stream type 0x03 reads as mp3 until a frame says Layer II.
    assert.deepEqual(probe.streams.map((s) => s.codec_name.replace(/^mp[23]$/, 'mpeg-audio')).sort(), ['mpeg-audio', 'mpeg2video']);

    // The announcement itself, as the client hears it on [group]:9875.
    const hex = await cl.exec(process.execPath, ['-e', SAP_ONE, GROUP, 'eth0'], { timeoutMs: 10_000 });
    const sap = decodeSap(Buffer.from(hex.trim(), 'hex'));
    assert.equal(sap.origin, '2001:db8::1');
    const sdp = parseSdp(sap.payload.toString('utf8'));
    assert.equal(sdp.name, SERVICES.alpha.name, 's= is the SDT service name');
    assert.equal(sdp.description, PROVIDER, 'i= is the SDT provider');
    assert.equal(String(sdp.media[0]!.payloads), '33');
    assert.equal(sdp.media[0]!.type, 'video');

    headend.kill('SIGTERM');
    await waitFor(() => lines.includes('stopped'), 10_000, 'clean stop');
  }));
