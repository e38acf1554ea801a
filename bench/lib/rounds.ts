/**
 * Throughput measured in alternating rounds (A, B, A, B, …) rather than one
 * long run each: on a shared machine, load drifts over seconds, and adjacent
 * rounds see the same. CPU time of the whole bench tree (PostgreSQL, the
 * server, clients) per unit of work is recorded too: unlike throughput, it
 * hardly moves with other processes' load.
 */
import { cpuSnapshot } from './processes.js';

/** One measurement: `units` of work (rows, transactions) done in `seconds`. */
export interface Sample {
  units: number;
  seconds: number;
}

export interface Rate {
  perSec: number;
  /** CPU µs of PostgreSQL + server + clients per unit, all cores. */
  cpuUsPerUnit: number;
  /** The Rowcast server's share of cpuUsPerUnit. */
  serverCpuUsPerUnit: number;
  /** Each round's rate, to show the spread. */
  rounds: number[];
}

/** `serverCpuMs` reads the server process's CPU time, to split its share out. */
export async function alternate(rounds: number, measures: Array<() => Promise<Sample>>, serverCpuMs: () => number): Promise<Rate[]> {
  const totals = measures.map(() => ({ units: 0, seconds: 0, cpuMs: 0, serverMs: 0, rounds: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, measure] of measures.entries()) {
      const total = totals[i]!;
      const before = cpuSnapshot().oursMs;
      const serverBefore = serverCpuMs();
      const sample = await measure();
      total.serverMs += serverCpuMs() - serverBefore;
      total.cpuMs += cpuSnapshot().oursMs - before;
      total.units += sample.units;
      total.seconds += sample.seconds;
      total.rounds.push(sample.units / sample.seconds);
    }
  }
  return totals.map((t) => ({
    perSec: t.units / t.seconds,
    cpuUsPerUnit: (1000 * t.cpuMs) / t.units,
    serverCpuUsPerUnit: (1000 * t.serverMs) / t.units,
    rounds: t.rounds,
  }));
}
