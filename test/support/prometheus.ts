/** Scrapes /metrics and parses it with a real Prometheus text-format parser. */
// @ts-expect-error: the package ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

interface Sample {
  value: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

export interface Scrape {
  families: Map<string, Family>;
  /** Value of a counter or gauge sample with exactly these labels (0 when absent). */
  value(name: string, labels?: Record<string, string>): number;
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const families = new Map<string, Family>(
    (parsePrometheusTextFormat(await res.text()) as Family[]).map((f) => [f.name, f]),
  );
  return {
    families,
    value(name, labels = {}) {
      const family = families.get(name);
      const sample = family?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels));
      return sample ? Number(sample.value) : 0;
    },
  };
}
