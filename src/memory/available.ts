// Memory this process may still use: the kernel's MemAvailable, capped by a cgroup limit (containers,
// CI runners) when one is set. For the trainer's refuse-to-start check against an estimate.

import { readFileSync } from "node:fs";
import { freemem } from "node:os";

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    const v = Number(text);
    return Number.isFinite(v) ? v : null; // cgroup v2 writes "max" for no limit
  } catch {
    return null;
  }
}

function memAvailable(): number | null {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Limit minus usage of this process's cgroup (v2, then v1), or null without a limit. */
function cgroupRemaining(): number | null {
  const pairs = [
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"],
    ["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"],
  ];
  for (const [limitPath, usagePath] of pairs) {
    const limit = readNumber(limitPath!);
    const usage = readNumber(usagePath!);
    // cgroup v1 reports "no limit" as a huge number near 2^63.
    if (limit !== null && usage !== null && limit < 2 ** 60) return Math.max(0, limit - usage);
  }
  return null;
}

export function availableMemoryBytes(): number {
  const host = memAvailable() ?? freemem();
  const cgroup = cgroupRemaining();
  return cgroup === null ? host : Math.min(host, cgroup);
}
