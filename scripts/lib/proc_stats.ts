/**
 * Process and machine figures from `/proc` (Linux), shared by the benchmark and soak drivers.
 *
 * @module
 */

/** Current resident set size of a process, in MB (`VmRSS`); NaN when it is gone. */
export async function rssMb(pid: number): Promise<number> {
  return await statusKb(pid, "VmRSS") / 1024;
}

/** Peak resident set size of a process, in MB (`VmHWM`); NaN when it is gone. */
export async function peakRssMb(pid: number): Promise<number> {
  return await statusKb(pid, "VmHWM") / 1024;
}

/** A `kB` field of a `/proc/PID/status` text (`VmRSS`, `RssAnon`, …), in kB; NaN when absent. */
export function statusField(status: string, field: string): number {
  return Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
}

/** A `kB` field of a process's `/proc/PID/status`, in kB; NaN when it is gone or off Linux. */
export async function statusKb(pid: number, field: string): Promise<number> {
  try {
    return statusField(await Deno.readTextFile(`/proc/${pid}/status`), field);
  } catch {
    return NaN;
  }
}

/** User + system CPU time of a process, in microseconds (from /proc, clock ticks of 10 ms). */
export async function cpuMicros(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The 1, 5 and 15 minute load averages, as `/proc/loadavg` prints them. */
export async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

/** Busy and total clock ticks of all CPUs, from the first line of /proc/stat. */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th numbers.
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
}
