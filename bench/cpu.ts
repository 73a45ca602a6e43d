import fs from 'node:fs';

/** utime + stime (and, with `children`, cutime + cstime: reaped children) of one process, ms. */
export function statCpuMs(pid: number, children = false): { ppid: number; ms: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return { ppid: Number(fields[1]), ms: (own + (children ? Number(fields[13]) + Number(fields[14]) : 0)) * 10 };
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) of the whole database so far: the postmaster, each of its live children
 * (backends, background workers, autovacuum) and, through its cutime/cstime, every child it has
 * reaped — so a backend that connects and disconnects between two readings (the peer's pool is
 * made by its drain and ended with it) still counts. Backends in `exclude` (the bench's own
 * polling connection) do not. NaN without /proc or with a database on another machine.
 */
export function databaseCpuMs(postmaster: number | undefined, exclude: number[]): number {
  const own = postmaster === undefined ? undefined : statCpuMs(postmaster, true);
  if (!own) return NaN;
  let total = own.ms;
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || exclude.includes(pid)) continue;
    const stat = statCpuMs(pid);
    if (stat && stat.ppid === postmaster) total += stat.ms;
  }
  return total;
}
