// Peak resident memory of this process. Linux keeps getrusage's ru_maxrss across fork and exec, so a
// child process spawned by a large parent reports the parent's peak; /proc/self/status's VmHWM belongs to
// this process's own address space. maxRSS is the fallback where /proc is absent.

import { readFileSync } from "node:fs";

export function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
