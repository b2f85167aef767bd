// The dashboard page: polls the JSON API (/api/v1/...) every POLL_MS and redraws, so it stays live through
// `kubectl port-forward` without a reload. No framework, no build step; text goes in with textContent only.
const POLL_MS = 2000;
const TOKEN_KEY = 'capstan-dashboard-token';
const $ = (id) => document.getElementById(id);

/** `el('td', {class: 'x'}, 'text', child)`: an element with attributes and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

class HttpError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(`api/v1/${path}`, { headers, cache: 'no-store' });
  const body = await response.json().catch(() => undefined);
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

function since(time) {
  if (!time) return '';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(time)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

function fixed(value, digits = 2) {
  return value === null || value === undefined ? '–' : Number(value).toFixed(digits);
}

/** A hue per owner: workers by ordinal a golden angle apart (neighbours differ most), others by a hash. */
function hue(name) {
  const ordinal = name?.match(/-(\d+)$/)?.[1];
  let n = ordinal === undefined ? 0 : Number(ordinal);
  if (ordinal === undefined) for (const c of name ?? '') n = (Math.imul(n, 31) + c.charCodeAt(0)) >>> 0;
  return Math.round((n * 137.508 + 200) % 360);
}

function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// ---- operator health ----

const CHARTS = [
  ['reconcileRate', 'reconciles / s', 2],
  ['errorRate', 'reconcile errors / s', 2],
  ['p99Seconds', 'p99 reconcile time (s)', 3],
  ['queueDepth', 'workqueue depth', 0],
  ['apiRequestRate', 'API requests / s', 2],
];

function chart({ points, intervalMs }, [field, label, digits]) {
  const values = points.map((p) => p[field] ?? 0);
  const max = Math.max(...values, 1e-9);
  const box = svg('svg', { viewBox: '0 0 360 100', preserveAspectRatio: 'none', role: 'img' });
  const coords = values.map(
    (v, i) => `${(i * 360) / Math.max(1, values.length - 1)},${100 - (v / max) * 95}`,
  );
  box.append(svg('polyline', { points: coords.join(' ') }));
  const last = values.at(-1);
  const caption = `${label}: ${values.length ? fixed(last, digits) : '–'} (max ${fixed(max, digits)}, last hour)`;
  const collecting =
    values.length < 2 ? `collecting: one point every ${Math.round(intervalMs / 1000)} s` : '';
  return el(
    'div',
    { class: 'chart', 'data-chart': field },
    el('div', { class: 'label' }, caption),
    box,
    el('div', { class: 'collecting' }, collecting),
  );
}

function tile(label, value) {
  return el(
    'div',
    { class: 'tile' },
    el('div', { class: 'value' }, value),
    el('div', { class: 'label' }, label),
  );
}

function renderOperator(op) {
  $('identity').textContent = op.identity;
  const leader = $('leader');
  leader.className = `badge ${op.leader.leading ? 'leading' : 'standby'}`;
  leader.textContent = op.leader.leading
    ? 'leader'
    : `standby: not the leader${op.leader.holder ? ` (leader: ${op.leader.holder})` : ''}`;
  const t = op.totals;
  $('totals').replaceChildren(
    tile('reconciles', t ? t.reconciles : '–'),
    tile('reconcile errors', t ? t.reconcileErrors : '–'),
    tile('p99 reconcile time', t?.p99Seconds == null ? '–' : `${fixed(t.p99Seconds, 3)} s`),
    tile('workqueue depth', t ? t.queueDepth : '–'),
    tile('API requests', t ? `${t.apiRequests} (${t.apiErrors} failed)` : '–'),
    tile('leader', op.leader.holder || '–'),
  );
  $('charts').replaceChildren(...CHARTS.map((spec) => chart(op.history, spec)));
}

// ---- apps ----

let selected = decodeURIComponent(location.hash.slice(1));

function conditionText(conditions) {
  return conditions.map((c) => `${c.type}=${c.status}`).join(' ');
}

function appRow(app) {
  const key = `${app.namespace}/${app.name}`;
  const p = app.partitions;
  const last = app.lastRebalance;
  const row = el(
    'tr',
    { 'data-app': key, class: key === selected ? 'selected' : '' },
    el('td', {}, app.namespace),
    el('td', {}, app.name),
    el('td', { 'data-field': 'phase' }, app.phase),
    el('td', {}, conditionText(app.conditions)),
    el('td', { 'data-field': 'workers' }, `${app.workers.ready}/${app.workers.desired}`),
    el('td', { 'data-field': 'partitions' }, `${p.owned ?? '?'}/${p.count}`),
    el('td', {}, last ? `${since(last.time)}: ${last.moved} moved (${last.reason})` : '–'),
  );
  row.addEventListener('click', () => {
    selected = key;
    location.hash = encodeURIComponent(key);
    void refresh();
  });
  return row;
}

function renderApps(list) {
  replaceRows($('apps').tBodies[0], list.items.map(appRow));
  $('apps-empty').hidden = list.items.length > 0;
  if (!selected && list.items.length > 0) selected = `${list.items[0].namespace}/${list.items[0].name}`;
}

// ---- one app ----

const STATES = [
  ['owned', 'owned by its assigned worker'],
  ['moving', 'moving: assigned, not yet claimed'],
  ['waiting', 'waiting: assigned to a worker that is gone'],
  ['unassigned', 'unassigned'],
];

function cell(c) {
  const ordinal = c.owner?.match(/-(\d+)$/)?.[1];
  const node = el(
    'div',
    {
      class: `cell ${c.state}`,
      'data-partition': c.partition,
      'data-owner': c.owner ?? '',
      'data-epoch': c.epoch,
      'data-state': c.state,
      title: `partition ${c.partition}: ${c.state}, owner ${c.owner ?? 'none'}, epoch ${c.epoch}, held by ${c.holder ?? 'nobody'}`,
    },
    el('span', { class: 'p' }, c.partition),
    el('br'),
    c.owner === null ? '—' : ordinal !== undefined ? `w${ordinal}` : c.owner,
    ` e${c.epoch}`,
  );
  node.style.setProperty('--owner-hue', String(hue(c.owner)));
  return node;
}

function renderMap(app) {
  const map = app.partitionMap;
  const note = $('map-note');
  if (map === null) {
    note.textContent =
      'No partition map here: only the leading operator reads ZooKeeper (this replica does not lead, or has not read it yet).';
    $('partition-map').replaceChildren();
    $('legend').replaceChildren();
    $('owners').replaceChildren();
    return;
  }
  note.textContent = `${map.partitions.length} partitions, ${map.unowned} not owned; assignment version ${map.version ?? '–'}; live workers: ${map.members.join(', ') || 'none'}`;
  $('legend').replaceChildren(
    ...STATES.map(([state, text]) => el('span', {}, el('span', { class: `cell ${state}` }), ` ${text}`)),
  );
  $('partition-map').replaceChildren(...map.partitions.map(cell));
  $('owners').replaceChildren(...ownerSwatches(map));
}

/** One swatch per owner in the map's colours, with how many partitions it is assigned. */
function ownerSwatches(map) {
  const counts = new Map();
  for (const c of map.partitions) if (c.owner !== null) counts.set(c.owner, (counts.get(c.owner) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([owner, count]) => {
      const swatch = el('span', { class: 'cell' });
      swatch.style.setProperty('--owner-hue', String(hue(owner)));
      const live = map.members.includes(owner) ? '' : ' (not registered)';
      return el('span', { 'data-owner': owner }, swatch, ` ${owner}: ${count}${live}`);
    });
}

function renderDetail(app) {
  $('detail').hidden = false;
  $('detail-title').textContent =
    `${app.namespace}/${app.name}: ${app.phase}, workers ${app.workers.ready}/${app.workers.desired}`;
  replaceRows(
    $('conditions').tBodies[0],
    app.conditions.map((c) =>
      el(
        'tr',
        {},
        el('td', {}, c.type),
        el('td', {}, c.status),
        el('td', {}, c.reason),
        el('td', {}, c.message),
        el('td', {}, since(c.lastTransitionTime)),
      ),
    ),
  );
  renderMap(app);
  replaceRows(
    $('rebalances').tBodies[0],
    app.rebalances.map((r) =>
      el(
        'tr',
        {},
        el('td', {}, `${new Date(r.time).toLocaleTimeString()} (${since(r.time)})`),
        el('td', {}, r.reason),
        el('td', {}, r.moved),
        el('td', {}, r.moves.map((m) => `${m.partition}: ${m.from ?? '–'} → ${m.to}`).join(', ')),
      ),
    ),
  );
  replaceRows(
    $('events').tBodies[0],
    app.events.map((e) =>
      el(
        'tr',
        {},
        el('td', {}, since(e.time)),
        el('td', {}, e.type),
        el('td', {}, e.reason),
        el('td', {}, e.count),
        el('td', {}, e.message),
      ),
    ),
  );
}

// ---- polling ----

function showLive(ok, text) {
  const live = $('live');
  live.className = `badge ${ok ? 'leading' : 'down'}`;
  live.textContent = text;
}

async function refresh() {
  try {
    const [op, list] = await Promise.all([api('operator'), api('apps')]);
    renderOperator(op);
    renderApps(list);
    if (selected && list.items.some((a) => `${a.namespace}/${a.name}` === selected)) {
      const [namespace, name] = selected.split('/');
      renderDetail(await api(`apps/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`));
    } else $('detail').hidden = true;
    $('token-form').hidden = true;
    showLive(true, `live, updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      $('token-form').hidden = false;
      $('token-error').textContent = error.message;
    }
    showLive(false, `not updated: ${error.message}`);
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  void refresh();
});

async function loop() {
  await refresh();
  setTimeout(loop, POLL_MS);
}

void loop();
