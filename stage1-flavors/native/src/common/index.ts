/**
 * Shared stage1 runtime library of the rkt-ts flavors (`@rkt/stage1-native/common`): entrypoint
 * arguments, the pod dir, in-rootfs path resolution and user lookup, app environment, volumes,
 * DNS files, built-in isolators, capabilities, seccomp sets, cgroups, mounts and the stage1 ACI
 * builder. It has no runtime dependency outside Node, so a flavor can vendor it into its image.
 */
export * from './args.js';
export * from './log.js';
export * from './pod.js';
export * from './rootfs.js';
export * from './env.js';
export * from './mds.js';
export * from './caps.js';
export * from './seccomp.js';
export * from './isolators.js';
export * from './cgroups.js';
export * from './mounts.js';
export * from './proc.js';
export * from './volumes.js';
export * from './dns.js';
export * from './app.js';
export * from './stop.js';
export { LINUX_SYSCALLS } from './syscalls.js';
export * from './gc.js';
