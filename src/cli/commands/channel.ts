/** `headend channel list|search|show|add|edit|enable|disable|remove`: the channels and their groups. */
import type { Command } from 'commander';
import { printJson, printTable, storeOptions, withStore, type StoreCliOptions } from '../../store/cli-support.js';
import type { Channel, ChannelPatch, DvbTuning, NewChannel } from '../../store/types.js';

interface ListOptions extends StoreCliOptions { kind?: string; enabled?: boolean; disabled?: boolean; directory?: string; tag?: string; limit?: string }
interface EditOptions extends StoreCliOptions {
  name?: string; url?: string; tuning?: string; sid?: string; codec?: string; tags?: string; group?: string; groupV4?: string;
  pin?: boolean; unpin?: boolean; disabled?: boolean;
}

function printChannels(channels: Channel[], json?: boolean): void {
  if (json) return printJson(channels);
  printTable(['ID', 'GROUP', 'IPV4', 'ON', 'KIND', 'NAME'], channels.map((c) => [
    c.id, c.group, c.groupV4 ?? '-', c.enabled ? (c.missingSince ? 'gone' : 'yes') : 'no', c.kind, c.name,
  ]));
}

/** "10773000 H 22000000 DVBS2 3/4 PSK_8" → DvbTuning (the DVB list's first six fields). */
async function parseTuningArg(text: string): Promise<DvbTuning> {
  const { parseDvbList } = await import('../../directories/dvb.js');
  const { StoreError } = await import('../../store/store.js');
  const parsed = parseDvbList(`${text} 1 x`);
  if (!parsed.entries[0]) {
    throw new StoreError('invalid', 'tuning', `--tuning: ${parsed.skipped[0]?.reason ?? 'bad'} (want "FREQ_KHZ POL SYMBOL_RATE SYSTEM FEC MODULATION")`);
  }
  return parsed.entries[0].tuning!;
}

async function fields(opts: EditOptions): Promise<ChannelPatch & { serviceId?: number }> {
  const { StoreError } = await import('../../store/store.js');
  const out: ChannelPatch & { serviceId?: number } = {};
  if (opts.name !== undefined) out.name = opts.name;
  if (opts.url !== undefined) out.url = opts.url;
  if (opts.tuning !== undefined) out.tuning = await parseTuningArg(opts.tuning);
  if (opts.sid !== undefined) {
    if (!/^\d+$/.test(opts.sid)) throw new StoreError('invalid', 'sid', `--sid: not a number: ${opts.sid}`);
    out.serviceId = Number(opts.sid);
  }
  if (opts.codec !== undefined) out.codec = opts.codec;
  if (opts.tags !== undefined) out.tags = opts.tags.split(',').map((t) => t.trim()).filter(Boolean);
  if (opts.groupV4 !== undefined) out.groupV4 = opts.groupV4 === 'none' ? null : opts.groupV4;
  if (opts.pin) out.pinned = true;
  if (opts.unpin) out.pinned = false;
  return out;
}

export function register(program: Command): void {
  const ch = program.command('channel').description('channels: what each group plays');

  storeOptions(ch.command('list'))
    .description('list channels with their groups')
    .option('--kind <kind>', 'radio | dvb')
    .option('--enabled', 'only enabled channels')
    .option('--disabled', 'only disabled channels')
    .option('--directory <id>', 'only this directory')
    .option('--tag <tag>', 'only channels with this tag')
    .option('--limit <n>', 'at most N')
    .option('--json', 'JSON output')
    .action(async (opts: ListOptions) => {
      await withStore(opts, (store) => {
        printChannels(store.channels.list({
          kind: opts.kind === 'radio' || opts.kind === 'dvb' ? opts.kind : undefined,
          enabled: opts.enabled ? true : opts.disabled ? false : undefined,
          directoryId: opts.directory !== undefined ? Number(opts.directory) : undefined,
          tag: opts.tag,
          limit: opts.limit ? Number(opts.limit) : undefined,
        }), opts.json);
      });
    });

  storeOptions(ch.command('search'))
    .description('channels whose name, tags, URL, country or group contain TEXT')
    .argument('<text>')
    .option('--json', 'JSON output')
    .action(async (text: string, opts: StoreCliOptions) => {
      await withStore(opts, (store) => printChannels(store.channels.search(text, 500), opts.json));
    });

  storeOptions(ch.command('show'))
    .description('one channel (by id, group or service number) with what its number means')
    .argument('<ref>')
    .action(async (ref: string, opts: StoreCliOptions) => {
      await withStore(opts, async (store) => {
        const c = await resolveOrFail(store, ref);
        printJson({ ...c, meaning: store.plan.describe(c.serviceNumber) });
      });
    });

  storeOptions(ch.command('add'))
    .description('add a channel by hand: --url for a radio stream, or --tuning and --sid for a DVB service')
    .requiredOption('--name <name>', 'channel name')
    .option('--url <url>', 'stream or playlist URL')
    .option('--tuning <fields>', 'DVB carrier: "FREQ_KHZ POL SYMBOL_RATE SYSTEM FEC MODULATION"')
    .option('--sid <n>', 'DVB service id')
    .option('--codec <codec>', 'codec hint')
    .option('--tags <a,b>', 'comma-separated tags')
    .option('--group <group>', 'explicit IPv6 group (default: the next number of the plan)')
    .option('--group-v4 <group>', 'explicit IPv4 group (MAC collisions refused)')
    .option('--disabled', 'add it disabled')
    .option('--pin', 'pinned: directory syncs leave it alone')
    .action(async (opts: EditOptions) => {
      await withStore(opts, async (store) => {
        const f = await fields(opts);
        const input: NewChannel = {
          name: opts.name!, url: f.url ?? undefined, tuning: f.tuning ?? undefined, serviceId: f.serviceId, codec: f.codec ?? undefined,
          tags: f.tags, group: opts.group, groupV4: f.groupV4 ?? undefined, enabled: !opts.disabled, pinned: f.pinned,
        };
        printJson(store.channels.add(input));
      });
    });

  storeOptions(ch.command('edit'))
    .description('change a channel (its group never changes)')
    .argument('<ref>')
    .option('--name <name>')
    .option('--url <url>')
    .option('--tuning <fields>', 'same carrier, other parameters: "FREQ_KHZ POL SYMBOL_RATE SYSTEM FEC MODULATION"')
    .option('--codec <codec>')
    .option('--tags <a,b>', 'replace the tags')
    .option('--group-v4 <group>', 'set the IPv4 group, or "none"')
    .option('--pin', 'pin it (syncs leave it alone)')
    .option('--unpin', 'unpin it')
    .action(async (ref: string, opts: EditOptions) => {
      await withStore(opts, async (store) => {
        const c = await resolveOrFail(store, ref);
        printJson(store.channels.update(c.id, await fields(opts)));
      });
    });

  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    storeOptions(ch.command(name))
      .description(`${name} a channel (a disabled channel's group plays nothing)`)
      .argument('<ref>')
      .action(async (ref: string, opts: StoreCliOptions) => {
        await withStore(opts, async (store) => {
          const c = store.channels.setEnabled((await resolveOrFail(store, ref)).id, enabled);
          process.stdout.write(`channel ${c.id} ${c.group} "${c.name}" ${enabled ? 'enabled' : 'disabled'}\n`);
        });
      });
  }

  storeOptions(ch.command('remove'))
    .description('delete a channel (its number is not reused)')
    .argument('<ref>')
    .action(async (ref: string, opts: StoreCliOptions) => {
      await withStore(opts, async (store) => {
        const c = await resolveOrFail(store, ref);
        store.channels.remove(c.id);
        process.stdout.write(`removed channel ${c.id} ${c.group} "${c.name}"\n`);
      });
    });
}

async function resolveOrFail(store: import('../../store/store.js').Store, ref: string): Promise<Channel> {
  const c = store.channels.resolve(ref);
  if (c) return c;
  const { StoreError } = await import('../../store/store.js');
  throw new StoreError('not-found', 'ref', `no channel ${ref} (an id, a group, or a service number)`);
}
