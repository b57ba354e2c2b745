/** `headend plan show GROUP|NUMBER`: what a group or a service number means in the address plan. */
import type { Command } from 'commander';
import { printJson, storeOptions, withStore, type StoreCliOptions } from '../../store/cli-support.js';

export function register(program: Command): void {
  const plan = program.command('plan').description('the address plan: groups and service numbers');
  storeOptions(plan.command('show'))
    .description('decode a group or a service number (decimal or 0x hex), and name the channel it carries')
    .argument('<ref>', 'ff3e:40:... group, IPv4 group, or service number')
    .action(async (ref: string, opts: StoreCliOptions) => {
      await withStore(opts, async (store) => {
        const { describeRef } = await import('../../api/plan-lookup.js');
        printJson({ prefix: store.plan.prefix, ...describeRef(store, ref) });
      });
    });
}
