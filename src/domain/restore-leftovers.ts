// What a restore cut short (a crash, a kill, power loss) leaves beside a persisted directory S,
// and what the next daemon start does with it, before any container starts. A restore with
// tag T (its start time) writes, in this order:
//   1. S.podwarden-restore-T   the archive's copy, unpacked while the pod still runs;
//   2. per mount, with the containers stopped: S -> S.podwarden-replaced-T, then
//      S.podwarden-restore-T -> S;
//   3. containers started; once the pod is ready, S.podwarden-replaced-T is deleted.
// The rule, per tag:
//   - some S.podwarden-restore-T is still there: the swap did not finish for every mount, and
//     no container ran on the restored data (they start again only after the last swap). Roll
//     back: each S that has a replaced-T gets it back (the restored copy in S, if any, is
//     deleted: the archive still holds it), and every restore-T is deleted (a copy of the archive).
//   - no restore-T is left: every swap was done, the restored data is in place. Finish: the
//     replaced-T directories are deleted once the pod is ready, as the restore itself would have.
// The only copy of data that was live before the restore (replaced-T) is never deleted unless
// the pod came up ready on the restored data. Tags are handled newest first (undo order).
// States no crash of this version can leave (S, replaced-T and restore-T of the same S all
// present; or S already given back by a newer tag's rollback) mean something else wrote S
// since (an older podwarden restarted on the leftovers): replaced-T is then kept and logged
// for the operator, and S is left alone.

export type LeftoverKind = "restore" | "replaced";

export const leftoverName = (source: string, kind: LeftoverKind, tag: string): string => `${source}.podwarden-${kind}-${tag}`;

/** The kind and tag of `name` (a file name in S's parent directory) when it is one of S's leftovers. */
export const parseLeftover = (source: string, name: string): { kind: LeftoverKind; tag: string } | undefined => {
  const base = source.slice(source.lastIndexOf("/") + 1);
  if (!name.startsWith(`${base}.podwarden-`)) return undefined;
  const m = /^(restore|replaced)-([0-9]{1,16})$/.exec(name.slice(base.length + ".podwarden-".length));
  return m ? { kind: m[1] as LeftoverKind, tag: m[2]! } : undefined;
};

export interface PersistedDirState {
  readonly container: string;
  readonly source: string;
  readonly exists: boolean;
  readonly leftovers: readonly { readonly kind: LeftoverKind; readonly tag: string }[];
}

export type LeftoverAction =
  | { readonly do: "remove"; readonly container: string; readonly path: string; readonly why: string }
  | { readonly do: "rename"; readonly container: string; readonly from: string; readonly to: string; readonly why: string }
  | { readonly do: "remove-when-ready"; readonly container: string; readonly path: string; readonly why: string }
  | { readonly do: "keep"; readonly container: string; readonly path: string; readonly why: string };

export const planLeftovers = (dirs: readonly PersistedDirState[]): LeftoverAction[] => {
  const tags = [...new Set(dirs.flatMap((d) => d.leftovers.map((l) => l.tag)))].sort((a, b) => b.length - a.length || (a < b ? 1 : a > b ? -1 : 0));
  const actions: LeftoverAction[] = [];
  const exists = new Map(dirs.map((d) => [d.source, d.exists]));
  const givenBack = new Set<string>();
  for (const tag of tags) {
    const has = (d: PersistedDirState, kind: LeftoverKind): boolean => d.leftovers.some((l) => l.tag === tag && l.kind === kind);
    const unfinished = dirs.some((d) => has(d, "restore"));
    for (const d of dirs) {
      const { container, source } = d;
      if (unfinished) {
        const replaced = leftoverName(source, "replaced", tag);
        if (has(d, "replaced") && exists.get(source) && (givenBack.has(source) || has(d, "restore"))) {
          actions.push({ do: "keep", container, path: replaced, why: `restore ${tag} was cut off, but ${source} was written since: the data from before that restore is left in ${replaced} for you` });
        } else if (has(d, "replaced")) {
          if (exists.get(source)) actions.push({ do: "remove", container, path: source, why: `restore ${tag} was cut off mid-swap: its copy goes (the archive still has it)` });
          actions.push({ do: "rename", container, from: replaced, to: source, why: `restore ${tag} was cut off mid-swap: the data from before it goes back` });
          exists.set(source, true);
          givenBack.add(source);
        }
        if (has(d, "restore")) actions.push({ do: "remove", container, path: leftoverName(source, "restore", tag), why: `restore ${tag} was cut off before its swap: its unpacked copy goes` });
      } else if (has(d, "replaced")) {
        actions.push({ do: "remove-when-ready", container, path: leftoverName(source, "replaced", tag), why: `restore ${tag} swapped every directory: the replaced data goes once the pod is ready` });
      }
    }
  }
  return actions;
};
