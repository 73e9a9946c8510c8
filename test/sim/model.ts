/**
 * What the processes of the simulated cluster should hold, from what the harness did and was
 * told: writes that returned ok, minus unregister/leave, deaths, crashes, Group restarts,
 * disconnects and conflicts a node logged losing. At quiescence every node of a cluster must hold
 * exactly this (checks.ts). Metas are `{v: serial}`, unique per write, so a meta names the write.
 */
export type ClusterName = string | null;
export type RowKind = 'registry' | 'members';

export interface ModelRow {
  readonly cluster: ClusterName;
  readonly key: string;
  readonly pid: string;
  readonly serial: number;
}

/** The write a meta serial was made for. */
export interface Registration {
  readonly pid: string;
  readonly cluster: ClusterName;
  readonly key: string;
}

export function clusterLabel(cluster: ClusterName): string {
  return cluster ?? '(default)';
}

export function serialOf(meta: unknown): number | null {
  const v = (meta as { v?: unknown } | null | undefined)?.v;
  return typeof v === 'number' ? v : null;
}

export const CONFLICT_REASON = 'group_registry_conflict';

/** The `{reason: 'group_registry_conflict', key, meta}` a conflict loser is killed with, or undefined. */
export function conflictKill(reason: unknown): { key: string; serial: number | null } | undefined {
  if (reason === null || typeof reason !== 'object') return undefined;
  const r = reason as { reason?: unknown; key?: unknown; meta?: unknown };
  if (r.reason !== CONFLICT_REASON || typeof r.key !== 'string') return undefined;
  return { key: r.key, serial: serialOf(r.meta) };
}

function rowKey(cluster: ClusterName, key: string, pid: string): string {
  return `${clusterLabel(cluster)}\u0000${key}\u0000${pid}`;
}

export class Model {
  readonly registrations = new Map<number, Registration>();
  private readonly rows: Record<RowKind, Map<string, ModelRow>> = { registry: new Map(), members: new Map() };
  private serial = 0;

  /** A meta no write has used yet. */
  newMeta(registration: Registration): { v: number } {
    const v = ++this.serial;
    this.registrations.set(v, registration);
    return { v };
  }

  get(kind: RowKind, cluster: ClusterName, key: string, pid: string): ModelRow | undefined {
    return this.rows[kind].get(rowKey(cluster, key, pid));
  }

  set(kind: RowKind, row: ModelRow): void {
    this.rows[kind].set(rowKey(row.cluster, row.key, row.pid), row);
  }

  drop(kind: RowKind, cluster: ClusterName, key: string, pid: string): void {
    this.rows[kind].delete(rowKey(cluster, key, pid));
  }

  /** Drop every row (of both kinds) the predicate picks. */
  dropWhere(pick: (row: ModelRow) => boolean): void {
    for (const rows of Object.values(this.rows)) {
      for (const [k, row] of rows) if (pick(row)) rows.delete(k);
    }
  }

  list(kind: RowKind): ModelRow[] {
    return [...this.rows[kind].values()];
  }
}
