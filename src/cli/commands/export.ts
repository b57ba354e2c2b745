/** `headend export m3u`, `headend export sdp GROUP`: what to hand to players. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { storeOptions, withStore, type StoreCliOptions } from '../../store/cli-support.js';

interface ExportOptions extends StoreCliOptions { output?: string; ipv4?: boolean; source?: string; all?: boolean; style?: string }

function emit(text: string, output?: string): void {
  if (output) writeFileSync(output, text);
  else process.stdout.write(text);
}

export function register(program: Command): void {
  const exp = program.command('export').description('playlists and session descriptions for players');

  storeOptions(exp.command('m3u'))
    .description('M3U playlist of rtp://SOURCE@[group]:5004 entries (VLC, Kodi IPTV Simple)')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--ipv4', 'use the IPv4 groups')
    .option('--source <addr>', 'SSM source to put before the @ (default: the address of the first configured interface; "none" for rtp://@group)')
    .option('--all', 'include disabled channels')
    .option('--style <style>', 'how the SSM source is written: vlc (rtp://SRC@[G]:P) or ffmpeg (rtp://[G]:P?sources=SRC, Kodi, mpv)', 'vlc')
    .action(async (opts: ExportOptions) => {
      await withStore(opts, async (store, config) => {
        const { buildM3u, headendSources } = await import('../../api/export.js');
        if (opts.style !== 'vlc' && opts.style !== 'ffmpeg') {
          const { StoreError } = await import('../../store/store.js');
          throw new StoreError('invalid', 'style', `--style: vlc or ffmpeg, got ${opts.style}`);
        }
        const style = opts.style;
        const sources = opts.source === 'none' ? {} : opts.source ? { source6: opts.source, source4: opts.source } : headendSources(config);
        emit(buildM3u(store.channels.list(opts.all ? {} : { enabled: true }), { port: config.rtp.port, ipv4: opts.ipv4, style, ...sources }), opts.output);
      });
    });

  storeOptions(exp.command('sdp'))
    .description('the SDP the headend announces for a channel')
    .argument('<group>', 'group (or channel id / service number)')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--source <addr>', 'SSM source for a=source-filter (default: the first configured interface\'s address)')
    .action(async (group: string, opts: ExportOptions) => {
      await withStore(opts, async (store, config) => {
        const { channelSdp } = await import('../../api/export.js');
        const { StoreError } = await import('../../store/store.js');
        const c = store.channels.resolve(group);
        if (!c) throw new StoreError('not-found', 'group', `no channel carries ${group}`);
        const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(group);
        emit(channelSdp(c, config, { ipv4, source: opts.source }), opts.output);
      });
    });
}
