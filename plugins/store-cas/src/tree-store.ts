/**
 * Tree store: an image rendered with its dependencies into `cas/tree/<tree id>/`.
 *
 * Tree id = `deps-sha512-` + 64 hex of sha512 over the comma-joined ids of the flattened
 * dependency list (the image first, as rkt), so a changed dependency gives a new tree.
 *
 * A render happens in a private temp dir (`cas/tmp/tree.<owner>.<rand>`); after extraction the
 * file system is flushed (syncfs), the `rendered` marker is written and the dir is renamed into
 * place: a tree dir is visible only when complete, and the marker is checked too, so a dir without
 * it (say, copied in by hand) is treated as absent and replaced. An interrupted render leaves only
 * an owner-tagged temp dir, reclaimed once its owner is dead.
 *
 * Concurrent renders of one tree: an advisory claim row (owner = pid + start time) makes a second
 * renderer wait while the first is alive; if the first dies the claim is taken over. Correctness
 * does not rest on the claim: the rename is the commit point and a loser discards its copy.
 *
 * Rendering order follows the appc spec (ace.md "Filesystem Setup"): dependencies depth-first in
 * list order, then the image; a later layer overwrites. pathWhitelist as in the reference
 * renderer: the image's own whitelist filters its non-directory entries; a dependency's entries
 * (directories too) are filtered by the whitelist of its topmost ancestor that has one.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Dependency, ImageManifest, RenderedTree, TreeStore } from '@rkt/api';
import { invalidArgument, notFound } from '@rkt/api';
import type { StoreCore } from './core.js';
import type { CasImageStore } from './image-store.js';
// The tar reader (tar-stream) is loaded by the first render or extraction only.
const extractModule = () => import('./extract.js');
import { fsyncDir, isErrno, removeAll, syncFs, treeBytes } from './fsutil.js';
import { checkTreeId, TREE_ID_RE } from './layout.js';
import { ownerAlive, ownerToken, tempName } from './owner.js';

const MAX_DEP_DEPTH = 32;
const MAX_LAYERS = 256;
const CLAIM_POLL_MS = 100;

interface PlanLayer {
  id: string;
  manifest: ImageManifest;
  level: number;
  /** Whitelist applying to this layer's entries (dirs included), from its topmost ancestor. */
  inherited: Set<string> | undefined;
}

export interface RenderPlan {
  treeId: string;
  imageId: string;
  /** Extraction order: dependencies first, the image last. */
  layers: PlanLayer[];
}

interface TreeInfoFile {
  imageId: string;
  layers: string[];
  size: number;
  skipped?: { xattrs: number; devices: number };
}

function whitelistSet(m: ImageManifest): Set<string> | undefined {
  const wl = m.pathWhitelist ?? [];
  if (wl.length === 0) return undefined;
  return new Set(wl.map(cleanAbs));
}

/** `/a//b/` → `/a/b` (the reference joins the entry with "rootfs" and cleans it). */
function cleanAbs(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return `/${out.join('/')}`;
}

export class CasTreeStore implements TreeStore {
  private readonly inflight = new Map<string, Promise<RenderedTree>>();

  constructor(
    private readonly core: StoreCore,
    private readonly images: CasImageStore,
  ) {}

  /** Resolve dependencies and compute the tree id (no rendering). */
  async plan(imageId: string): Promise<RenderPlan> {
    const order: PlanLayer[] = []; // extraction order (post-order)
    const visit = async (id: string, level: number, inherited: Set<string> | undefined, path: string[]) => {
      if (path.includes(id)) {
        throw invalidArgument(`dependency cycle: ${[...path, id].join(' -> ')}`);
      }
      if (level > MAX_DEP_DEPTH) throw invalidArgument(`dependencies of ${imageId} nest deeper than ${MAX_DEP_DEPTH}`);
      const manifest = await this.images.manifest(id);
      const own = whitelistSet(manifest);
      const forChildren = inherited ?? own;
      for (const dep of manifest.dependencies ?? []) {
        const depId = await this.resolveDependency(dep, id);
        await visit(depId, level + 1, forChildren, [...path, id]);
      }
      order.push({ id, manifest, level, inherited });
      if (order.length > MAX_LAYERS) throw invalidArgument(`image ${imageId} has more than ${MAX_LAYERS} layers`);
    };
    await visit(imageId, 0, undefined, []);
    const flat = order.map((l) => l.id).reverse(); // rkt's list: the image first
    const digest = createHash('sha512').update(flat.join(',')).digest('hex').slice(0, 64);
    return { treeId: `deps-sha512-${digest}`, imageId, layers: order };
  }

  private async resolveDependency(dep: Dependency, parent: string): Promise<string> {
    if (dep.imageID !== undefined && dep.imageID !== '') {
      const info = await this.images.getInfo(dep.imageID);
      if (info === undefined) {
        throw notFound(
          `dependency ${dep.imageName} (${dep.imageID}) of image ${parent} is not in the store; fetch it first`,
          { details: { dependency: dep.imageName, imageID: dep.imageID, image: parent } },
        );
      }
      if (info.name !== dep.imageName) {
        throw invalidArgument(
          `dependency ${dep.imageID} of image ${parent} is named ${info.name}, not ${dep.imageName}`,
        );
      }
      return info.id;
    }
    const labels: Record<string, string> = {};
    for (const l of dep.labels ?? []) labels[l.name] = l.value;
    const info = await this.images.findByName(dep.imageName, labels);
    if (info === undefined) {
      const ls = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
      throw notFound(
        `dependency ${dep.imageName}${ls ? ` (${ls})` : ''} of image ${parent} is not in the store; fetch it first`,
        { details: { dependency: dep.imageName, labels, image: parent } },
      );
    }
    return info.id;
  }

  async render(imageId: string): Promise<RenderedTree> {
    const id = await this.images.resolveId(imageId);
    const plan = await this.plan(id);
    const running = this.inflight.get(plan.treeId);
    if (running !== undefined) return running;
    const p = this.renderPlan(plan).finally(() => this.inflight.delete(plan.treeId));
    this.inflight.set(plan.treeId, p);
    return p;
  }

  private complete(treeId: string): RenderedTree | undefined {
    const dir = this.core.layout.tree(treeId);
    try {
      fs.accessSync(`${dir}/rendered`);
      const info = JSON.parse(fs.readFileSync(`${dir}/info.json`, 'utf8')) as TreeInfoFile;
      return { id: treeId, path: dir, imageId: info.imageId, layers: info.layers, size: info.size };
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  /** Take the advisory claim, or return the live owner holding it. */
  private claim(treeId: string): boolean {
    const db = this.core.db;
    const me = ownerToken();
    return db.transaction(() => {
      const row = db.prepare('SELECT owner FROM render_claims WHERE tree_id = ?').get(treeId) as { owner: string } | undefined;
      if (row !== undefined && row.owner !== me && ownerAlive(row.owner)) return false;
      db.prepare('INSERT OR REPLACE INTO render_claims (tree_id, owner, started) VALUES (?, ?, ?)').run(treeId, me, Date.now());
      return true;
    }).immediate();
  }

  private release(treeId: string): void {
    this.core.db.prepare('DELETE FROM render_claims WHERE tree_id = ? AND owner = ?').run(treeId, ownerToken());
  }

  private async renderPlan(plan: RenderPlan): Promise<RenderedTree> {
    for (;;) {
      const done = this.complete(plan.treeId);
      if (done !== undefined) return this.used(plan, done);
      if (this.claim(plan.treeId)) break;
      await new Promise((r) => setTimeout(r, CLAIM_POLL_MS));
    }
    try {
      const done = this.complete(plan.treeId);
      if (done !== undefined) return this.used(plan, done);
      return this.used(plan, await this.build(plan));
    } finally {
      this.release(plan.treeId);
    }
  }

  private async used(plan: RenderPlan, tree: RenderedTree): Promise<RenderedTree> {
    for (const l of new Set(plan.layers.map((x) => x.id))) {
      await this.images.markUsed(l).catch(() => undefined); // removed meanwhile: the tree stands alone
    }
    return tree;
  }

  private async build(plan: RenderPlan): Promise<RenderedTree> {
    const core = this.core;
    const work = `${core.layout.tmp}/${tempName('tree')}`;
    fs.mkdirSync(work, 0o700);
    try {
      fs.mkdirSync(`${work}/rootfs`, 0o755);
      const { TreeWriter } = await extractModule();
      const writer = new TreeWriter(`${work}/rootfs`);
      for (const layer of plan.layers) {
        const top = layer.level === 0;
        const own = top ? whitelistSet(layer.manifest) : undefined;
        const inherited = layer.inherited;
        const filter =
          own !== undefined
            ? (p: string, isDir: boolean) => isDir || own.has(p)
            : inherited !== undefined
              ? (p: string) => inherited.has(p)
              : undefined;
        const hook = core.hooks.renderEntry;
        await writer.applyLayer(this.images.openAci(layer.id), {
          label: layer.id,
          ...(filter !== undefined ? { filter } : {}),
          ...(hook !== undefined ? { beforeEntry: (name: string) => hook(layer.id, name) } : {}),
        });
      }
      writer.finish();
      fs.writeFileSync(`${work}/manifest`, this.images.manifestBytes(plan.imageId), { mode: 0o644 });
      const size = treeBytes(`${work}/rootfs`);
      const layers = plan.layers.map((l) => l.id);
      // What could not be reproduced is recorded, not hidden (xattrs need a native module; device
      // nodes need root).
      const info: TreeInfoFile = {
        imageId: plan.imageId,
        layers,
        size,
        skipped: { xattrs: writer.stats.skippedXattrs, devices: writer.stats.skippedDevices },
      };
      fs.writeFileSync(`${work}/info.json`, `${JSON.stringify(info)}\n`, { mode: 0o644 });
      if (core.durable) syncFs(work);
      fs.writeFileSync(`${work}/rendered`, '', { mode: 0o644 });
      fsyncDir(work);

      const dest = core.layout.tree(plan.treeId);
      for (;;) {
        try {
          fs.renameSync(work, dest);
          break;
        } catch (e) {
          if (!isErrno(e, 'ENOTEMPTY', 'EEXIST')) throw e;
          if (this.complete(plan.treeId) !== undefined) {
            removeAll(work); // another renderer won the race: use its tree
            return this.complete(plan.treeId)!;
          }
          this.discard(plan.treeId); // a dir without the marker: never a valid tree
        }
      }
      fsyncDir(core.layout.trees);
      core.db
        .prepare('INSERT OR REPLACE INTO trees (id, image_id, layers, size, rendered_time) VALUES (?, ?, ?, ?, ?)')
        .run(plan.treeId, plan.imageId, JSON.stringify(layers), size, Date.now());
      return { id: plan.treeId, path: dest, imageId: plan.imageId, layers, size };
    } catch (e) {
      removeAll(work);
      throw e;
    }
  }

  /** Make a tree dir invisible (atomic rename into tmp), then delete it. */
  private discard(treeId: string): boolean {
    const trash = `${this.core.layout.tmp}/${tempName('trash')}`;
    try {
      fs.renameSync(this.core.layout.tree(treeId), trash);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
    fsyncDir(this.core.layout.trees);
    removeAll(trash);
    return true;
  }

  async extract(imageId: string, dir: string): Promise<void> {
    const id = await this.images.resolveId(imageId);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (fs.readdirSync(dir).length > 0) throw invalidArgument(`cannot extract into ${dir}: the directory is not empty`);
    fs.mkdirSync(`${dir}/rootfs`, 0o755);
    const { TreeWriter } = await extractModule();
    const writer = new TreeWriter(`${dir}/rootfs`);
    await writer.applyLayer(this.images.openAci(id), { label: id });
    writer.finish();
    fs.writeFileSync(`${dir}/manifest`, this.images.manifestBytes(id), { mode: 0o644 });
  }

  async get(treeId: string): Promise<RenderedTree | undefined> {
    if (!TREE_ID_RE.test(treeId)) return undefined;
    void this.core.db; // directories exist
    return this.complete(treeId);
  }

  async remove(treeId: string): Promise<void> {
    checkTreeId(treeId);
    const existed = this.discard(treeId);
    const r = this.core.db.prepare('DELETE FROM trees WHERE id = ?').run(treeId);
    if (!existed && r.changes === 0) throw notFound(`tree ${treeId} is not in the store`);
  }

  async list(): Promise<RenderedTree[]> {
    void this.core.db;
    const out: RenderedTree[] = [];
    for (const name of fs.readdirSync(this.core.layout.trees).sort()) {
      if (!TREE_ID_RE.test(name)) continue;
      const t = this.complete(name);
      if (t !== undefined) out.push(t);
    }
    return out;
  }

  /** Tree ids present on disk, complete or not (for gc). */
  allIds(): string[] {
    void this.core.db;
    return fs.readdirSync(this.core.layout.trees).filter((n) => TREE_ID_RE.test(n));
  }
}
