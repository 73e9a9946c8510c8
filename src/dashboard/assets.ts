/**
 * The dashboard's front end: one page, plain DOM and fetch/EventSource, no library and nothing
 * from a CDN (many production networks have no internet). Kept as strings so that `tsc` ships it
 * with the package. The script avoids backquotes so it can live in a template literal as is.
 */

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rollcall dashboard</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>rollcall</h1>
  <span id="self"></span>
  <nav>
    <button data-tab="cluster" class="active">Cluster</button>
    <button data-tab="registry">Registry</button>
    <button data-tab="groups">Groups</button>
    <button data-tab="events">Events</button>
    <button data-tab="metrics">Metrics</button>
  </nav>
  <span id="status"></span>
</header>
<main>
  <section id="tab-cluster">
    <table id="nodes">
      <thead><tr><th>Node</th><th>Incarnation</th><th>Roles</th><th>Link</th><th>Heartbeat age</th><th>Event-loop delay (p99)</th><th>Entries (reg / members)</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="tab-registry" hidden>
    <form id="registry-form" class="filters">
      <input id="registry-prefix" placeholder="key prefix" autocomplete="off">
      <select id="registry-group" class="group-select"></select>
      <select id="registry-cluster" class="cluster-select"></select>
      <input id="registry-node" placeholder="owner node" autocomplete="off">
      <button type="submit">Search</button>
    </form>
    <p id="registry-summary" class="summary"></p>
    <table id="registry">
      <thead><tr><th>Key</th><th>Group</th><th>Cluster</th><th>Pid</th><th>Node</th><th>Meta</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="tab-groups" hidden>
    <form id="groups-form" class="filters">
      <input id="groups-prefix" placeholder="key prefix" autocomplete="off">
      <select id="groups-group" class="group-select"></select>
      <select id="groups-cluster" class="cluster-select"></select>
      <button type="submit">Search</button>
    </form>
    <p id="groups-summary" class="summary"></p>
    <div class="split">
      <table id="groups">
        <thead><tr><th>Key</th><th>Group</th><th>Cluster</th><th>Members</th></tr></thead>
        <tbody></tbody>
      </table>
      <div>
        <h2 id="members-title">Members</h2>
        <table id="members">
          <thead><tr><th>Pid</th><th>Node</th><th>Meta</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </div>
  </section>
  <section id="tab-events" hidden>
    <form id="events-form" class="filters">
      <input id="events-prefix" placeholder="key prefix" autocomplete="off">
      <select id="events-group" class="group-select"></select>
      <select id="events-cluster" class="cluster-select"></select>
      <input id="events-types" placeholder="types (registered,joined,...)" autocomplete="off">
      <button type="submit">Apply</button>
      <button type="button" id="events-clear">Clear</button>
    </form>
    <p id="events-summary" class="summary"></p>
    <table id="events">
      <thead><tr><th>Time</th><th>Type</th><th>Node</th><th>Group</th><th>Cluster</th><th>Key</th><th>Pid</th><th>Meta / reason</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="tab-metrics" hidden>
    <p class="summary">Per-second counts over the last minute on this node (from its event stream).</p>
    <div id="charts"></div>
    <pre id="stats"></pre>
  </section>
</main>
<script src="/app.js"></script>
</body>
</html>
`;

const unauthorized = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rollcall dashboard: token required</title></head>
<body style="font-family: sans-serif; margin: 2em">
<h1>Access token required</h1>
<p>Open the dashboard with the address printed when it started: <code>http://host:port/?token=...</code>.
Scripts send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</body></html>
`;

const css = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2430; background: #f6f7f9; }
header { display: flex; align-items: center; gap: 1em; padding: .5em 1em; background: #1d2430; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
nav button { background: none; border: 0; color: #c9d1dc; padding: .4em .8em; cursor: pointer; font-size: 14px; }
nav button.active { color: #fff; border-bottom: 2px solid #6cb6ff; }
#status { margin-left: auto; font-size: 12px; color: #c9d1dc; }
main { padding: 1em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.meta { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; word-break: break-all; max-width: 40em; }
tr.down td { color: #a33; }
tr.clickable { cursor: pointer; }
tr.selected { background: #e8f2ff; }
.filters { display: flex; gap: .5em; margin-bottom: .5em; flex-wrap: wrap; }
.filters input, .filters select, .filters button { padding: .3em .5em; font-size: 14px; }
.summary { color: #5b6573; margin: .3em 0; }
.split { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
h2 { font-size: 15px; margin: 0 0 .4em; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 1em; }
.chart { background: #fff; border: 1px solid #e3e6ea; padding: .5em; }
.chart .value { font-size: 20px; font-weight: 600; }
.chart svg { width: 100%; height: 50px; }
.chart polyline { fill: none; stroke: #2f81f7; stroke-width: 1.5; }
.error { color: #a33; }
`;

const js = `'use strict';
(function () {
  var $ = function (sel) { return document.querySelector(sel); };
  var state = { tab: 'cluster', cluster: null, events: null, eventCount: 0, selectedGroup: null };
  var MAX_EVENT_ROWS = 500;

  function text(value) {
    if (value === null || value === undefined) return '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  function cell(value, cls) {
    var td = document.createElement('td');
    td.textContent = text(value);
    if (cls) td.className = cls;
    return td;
  }
  function row(values, metaIndex) {
    var tr = document.createElement('tr');
    values.forEach(function (v, i) { tr.appendChild(cell(v, i === metaIndex ? 'meta' : '')); });
    return tr;
  }
  function clusterName(c) { return c === null ? '(default)' : c; }
  function status(message, isError) {
    var s = $('#status');
    s.textContent = message;
    s.className = isError ? 'error' : '';
  }

  function getJson(path, params) {
    var qs = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) { if (params[k] !== undefined) qs.set(k, params[k]); });
    var q = qs.toString();
    return fetch(path + (q ? '?' + q : ''), { credentials: 'same-origin' }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + r.status);
        return body;
      });
    });
  }

  /** The filters of a form: empty boxes mean "any"; the cluster select maps to the API's cluster parameter. */
  function filters(prefix) {
    var params = {};
    var p = $('#' + prefix + '-prefix');
    if (p && p.value) params.prefix = p.value;
    var g = $('#' + prefix + '-group');
    if (g && g.value) params.group = g.value;
    var c = $('#' + prefix + '-cluster');
    if (c && c.value !== '*') params.cluster = c.value;
    return params;
  }

  // ---- tabs ----
  document.querySelectorAll('nav button').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-tab')); });
  });
  function show(tab) {
    state.tab = tab;
    document.querySelectorAll('nav button').forEach(function (b) { b.classList.toggle('active', b.getAttribute('data-tab') === tab); });
    document.querySelectorAll('main > section').forEach(function (s) { s.hidden = s.id !== 'tab-' + tab; });
    if (tab === 'registry') loadRegistry();
    if (tab === 'groups') loadGroups();
    if (tab === 'metrics') loadMetrics();
    if (tab === 'events' && !state.events) openEvents();
  }

  // ---- cluster ----
  function loadCluster() {
    return getJson('/api/cluster').then(function (c) {
      state.cluster = c;
      $('#self').textContent = 'node ' + c.node;
      var tbody = $('#nodes tbody');
      tbody.textContent = '';
      c.nodes.forEach(function (n) {
        var entries = n.entries.map(function (e) {
          return e.group + (e.cluster === null ? '' : '/' + e.cluster) + ': ' + e.registrations + ' / ' + e.memberships;
        }).join(', ');
        var loop = n.eventLoopDelayMs ? n.eventLoopDelayMs.p99 + ' ms' : '';
        var link = n.link + (n.down ? ' (' + n.down.reason + ')' : '');
        var tr = row([n.name + (n.self ? ' (this node)' : ''), n.incarnation, n.roles ? n.roles.join(', ') : '', link,
          n.heartbeatAgeMs === null ? '' : n.heartbeatAgeMs + ' ms', loop, entries]);
        tr.setAttribute('data-node', n.name);
        tr.setAttribute('data-link', n.link);
        if (n.link === 'down') tr.className = 'down';
        tbody.appendChild(tr);
      });
      fillSelects(c);
      status('updated ' + new Date().toLocaleTimeString() + (state.events ? ' · events live' : ''));
    }).catch(function (e) { status(e.message, true); });
  }

  function fillSelects(c) {
    var groups = c.groups.map(function (g) { return g.name; });
    var clusters = {};
    c.groups.forEach(function (g) { g.clusters.forEach(function (cl) { clusters[cl === null ? '' : cl] = true; }); });
    document.querySelectorAll('.group-select').forEach(function (s) {
      setOptions(s, [['', 'all groups']].concat(groups.map(function (g) { return [g, g]; })));
    });
    document.querySelectorAll('.cluster-select').forEach(function (s) {
      setOptions(s, [['*', 'all clusters']].concat(Object.keys(clusters).sort().map(function (k) { return [k, k === '' ? '(default)' : k]; })));
    });
  }
  function setOptions(select, options) {
    var current = select.options.length > 0 ? select.value : options[0][0];
    var key = JSON.stringify(options);
    if (select.getAttribute('data-options') === key) return;
    select.setAttribute('data-options', key);
    select.textContent = '';
    options.forEach(function (o) {
      var opt = document.createElement('option');
      opt.value = o[0];
      opt.textContent = o[1];
      select.appendChild(opt);
    });
    if (options.some(function (o) { return o[0] === current; })) select.value = current;
  }

  // ---- registry ----
  $('#registry-form').addEventListener('submit', function (e) { e.preventDefault(); loadRegistry(); });
  function loadRegistry() {
    var params = filters('registry');
    var node = $('#registry-node').value;
    if (node) params.node = node;
    return getJson('/api/registry', params).then(function (r) {
      var tbody = $('#registry tbody');
      tbody.textContent = '';
      r.items.forEach(function (e) {
        var tr = row([e.key, e.group, clusterName(e.cluster), e.pid, e.node, e.meta], 5);
        tr.setAttribute('data-key', e.key);
        tbody.appendChild(tr);
      });
      $('#registry-summary').textContent = r.total + ' entr' + (r.total === 1 ? 'y' : 'ies') + (r.truncated ? ', first ' + r.items.length + ' shown' : '');
    }).catch(function (e) { $('#registry-summary').textContent = e.message; });
  }

  // ---- groups ----
  $('#groups-form').addEventListener('submit', function (e) { e.preventDefault(); loadGroups(); });
  function loadGroups() {
    return getJson('/api/groups', filters('groups')).then(function (r) {
      var tbody = $('#groups tbody');
      tbody.textContent = '';
      r.items.forEach(function (g) {
        var tr = row([g.key, g.group, clusterName(g.cluster), g.members]);
        tr.className = 'clickable';
        tr.setAttribute('data-key', g.key);
        tr.addEventListener('click', function () {
          document.querySelectorAll('#groups tr.selected').forEach(function (x) { x.classList.remove('selected'); });
          tr.classList.add('selected');
          loadMembers(g);
        });
        tbody.appendChild(tr);
      });
      $('#groups-summary').textContent = r.total + ' group' + (r.total === 1 ? '' : 's') + (r.truncated ? ', first ' + r.items.length + ' shown' : '');
    }).catch(function (e) { $('#groups-summary').textContent = e.message; });
  }
  function loadMembers(g) {
    var params = { group: g.group, key: g.key, cluster: g.cluster === null ? '' : g.cluster };
    return getJson('/api/groups/members', params).then(function (r) {
      $('#members-title').textContent = 'Members of ' + g.key + ' (' + r.total + ')';
      var tbody = $('#members tbody');
      tbody.textContent = '';
      r.items.forEach(function (m) { tbody.appendChild(row([m.pid, m.node, m.meta], 2)); });
    }).catch(function (e) { $('#members-title').textContent = e.message; });
  }

  // ---- events ----
  $('#events-form').addEventListener('submit', function (e) { e.preventDefault(); openEvents(); });
  $('#events-clear').addEventListener('click', function () { $('#events tbody').textContent = ''; state.eventCount = 0; eventsSummary(); });
  function openEvents() {
    if (state.events) state.events.close();
    var params = filters('events');
    var types = $('#events-types').value.replace(/\\s+/g, '');
    if (types) params.types = types;
    var qs = new URLSearchParams(params).toString();
    var source = new EventSource('/api/events' + (qs ? '?' + qs : ''));
    state.events = source;
    source.onopen = function () { eventsSummary('live'); };
    source.onerror = function () { eventsSummary(source.readyState === 2 ? 'closed (check the filters)' : 'reconnecting...'); };
    source.onmessage = function (m) {
      var e = JSON.parse(m.data);
      var tbody = $('#events tbody');
      var detail = e.type === 'nodeup' ? e.address : e.type === 'nodedown' ? e.reason : (e.reason !== null && e.reason !== undefined ? { meta: e.meta, reason: e.reason } : e.meta);
      var tr = row([new Date(e.at).toLocaleTimeString(), e.type, e.node, e.group, e.cluster === undefined ? '' : clusterName(e.cluster), e.key, e.pid, detail], 7);
      tr.setAttribute('data-type', e.type);
      if (e.key !== undefined) tr.setAttribute('data-key', e.key);
      tbody.insertBefore(tr, tbody.firstChild);
      while (tbody.children.length > MAX_EVENT_ROWS) tbody.removeChild(tbody.lastChild);
      state.eventCount++;
      eventsSummary('live');
    };
  }
  function eventsSummary(s) {
    if (s) state.eventsState = s;
    $('#events-summary').textContent = 'stream: ' + (state.eventsState || 'closed') + ' · ' + state.eventCount + ' events received (newest first, last ' + MAX_EVENT_ROWS + ' kept)';
  }

  // ---- metrics ----
  /** A minute of samples, the newest at the right edge (a young dashboard fills from the right). */
  function sparkline(values, slots) {
    var w = 240, h = 50, max = Math.max.apply(null, values.concat([1]));
    var step = w / Math.max(1, slots - 1);
    var offset = w - (values.length - 1) * step;
    var points = values.map(function (v, i) { return (offset + i * step).toFixed(1) + ',' + (h - 2 - (v / max) * (h - 4)).toFixed(1); }).join(' ');
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
    var line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points);
    svg.appendChild(line);
    return svg;
  }
  /** Replication lag: the latest sample of each Group (stats), kept here while the page is open. */
  var lagHistory = [];
  function lagChart(m) {
    var groups = m.stats && m.stats.groups ? m.stats.groups : [];
    var worst = null;
    groups.forEach(function (g) {
      var ms = g.replication && g.replication.lag ? g.replication.lag.lastMs : null;
      if (typeof ms === 'number' && (worst === null || ms > worst)) worst = ms;
    });
    if (worst !== null) lagHistory.push(worst);
    if (lagHistory.length > 30) lagHistory.shift();
    var box = document.createElement('div');
    box.className = 'chart';
    box.setAttribute('data-rate', 'replication-lag');
    var title = document.createElement('div');
    title.textContent = 'replication lag, ms (latest sample of the slowest Group; writer clock to apply here)';
    var value = document.createElement('div');
    value.className = 'value';
    value.textContent = worst === null ? 'no replicated ops yet' : worst.toFixed(1);
    box.appendChild(title);
    box.appendChild(value);
    box.appendChild(sparkline(lagHistory.length ? lagHistory : [0], 30));
    return box;
  }
  function loadMetrics() {
    return getJson('/api/metrics').then(function (m) {
      var charts = $('#charts');
      charts.textContent = '';
      Object.keys(m.series).forEach(function (name) {
        var box = document.createElement('div');
        box.className = 'chart';
        box.setAttribute('data-rate', name);
        var series = m.series[name];
        var last = series.length ? series[series.length - 1] : 0;
        var title = document.createElement('div');
        title.textContent = name + ' per second (avg ' + m.perSecond[name].toFixed(2) + ', total ' + m.totals[name] + ')';
        var value = document.createElement('div');
        value.className = 'value';
        value.textContent = String(last);
        box.appendChild(title);
        box.appendChild(value);
        box.appendChild(sparkline(series, m.windowSeconds));
        charts.appendChild(box);
      });
      charts.appendChild(lagChart(m));
      $('#stats').textContent = m.stats === null ? '' : JSON.stringify(m.stats, null, 2);
    }).catch(function (e) { $('#charts').textContent = e.message; });
  }

  // ---- refresh ----
  void loadCluster();
  setInterval(function () {
    if (document.hidden) return;
    void loadCluster();
    if (state.tab === 'metrics') void loadMetrics();
  }, 2000);
})();
`;

export const ASSETS = { html, css, js, unauthorized } as const;
