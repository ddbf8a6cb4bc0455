/**
 * oclif definitions of the pod flags of run, prepare and run-prepared, made from the plain specs
 * in ../flag-specs.ts (which the `rkt run` fast path parses without oclif).
 */
import { Flags } from '@oclif/core';
import * as specs from '../flag-specs.js';
import type { FlagDef, FlagDefs } from '../flag-specs.js';

// The flags' value types are not known statically any more: commands read them as plain values.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFlags = Record<string, any>;

/** One oclif flag from a spec. */
export function oclifFlag(d: FlagDef): AnyFlags[string] {
  const common = {
    description: d.description,
    ...(d.hidden ? { hidden: true } : {}),
    ...(d.helpGroup ? { helpGroup: d.helpGroup } : {}),
  };
  if (d.type === 'boolean') return Flags.boolean({ ...common, default: d.default === true });
  const options = d.options ? { options: d.options } : {};
  // (no multiple flag has a default)
  if (d.multiple) return Flags.string({ ...common, ...options, multiple: true, multipleNonGreedy: true });
  return Flags.string({ ...common, ...options, ...(typeof d.default === 'string' ? { default: d.default } : {}) });
}

export function oclifFlags(defs: FlagDefs): AnyFlags {
  return Object.fromEntries(Object.entries(defs).map(([k, d]) => [k, oclifFlag(d)]));
}

export const stage1Flags = oclifFlags(specs.stage1Flags);
export const prepareFlags = oclifFlags(specs.prepareFlags);
export const runOnlyFlags = oclifFlags(specs.runOnlyFlags);
export const appFlags = oclifFlags(specs.appFlags);
