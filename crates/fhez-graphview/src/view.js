(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('fhez-data').textContent);
  var svg = document.getElementById('fhez-graph');
  var canvas = document.getElementById('canvas');
  var viewport = document.getElementById('viewport');
  var list = document.getElementById('details-list');
  var empty = document.getElementById('details-empty');
  var heading = document.getElementById('details-title');
  var nodes = Array.prototype.slice.call(svg.querySelectorAll('g.node'));
  var links = Array.prototype.slice.call(svg.querySelectorAll('g.link'));
  var view = { x: 0, y: 0, k: 1 };
  var selected = null;

  function apply() {
    viewport.setAttribute('transform',
      'translate(' + view.x + ' ' + view.y + ') scale(' + view.k + ')');
  }
  function svgPoint(clientX, clientY) {
    var m = svg.getScreenCTM();
    if (!m) { return { x: 0, y: 0 }; }
    var p = svg.createSVGPoint();
    p.x = clientX; p.y = clientY;
    return p.matrixTransform(m.inverse());
  }
  function zoomAt(p, factor) {
    var k = Math.min(12, Math.max(0.05, view.k * factor));
    view.x = p.x - (p.x - view.x) * k / view.k;
    view.y = p.y - (p.y - view.y) * k / view.k;
    view.k = k;
    apply();
  }
  function zoomCentre(factor) {
    var r = svg.getBoundingClientRect();
    zoomAt(svgPoint(r.left + r.width / 2, r.top + r.height / 2), factor);
  }
  function fit() { view = { x: 0, y: 0, k: 1 }; apply(); }

  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    zoomAt(svgPoint(e.clientX, e.clientY), e.deltaY < 0 ? 1.15 : 1 / 1.15);
  }, { passive: false });

  var drag = null;
  svg.addEventListener('pointerdown', function (e) {
    if (e.target.closest && e.target.closest('g.node')) { return; }
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    canvas.classList.add('dragging');
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', function (e) {
    if (!drag) { return; }
    var m = svg.getScreenCTM();
    var sx = m ? m.a : 1, sy = m ? m.d : 1;
    view.x = drag.vx + (e.clientX - drag.x) / sx;
    view.y = drag.vy + (e.clientY - drag.y) / sy;
    apply();
  });
  function endDrag() { drag = null; canvas.classList.remove('dragging'); }
  svg.addEventListener('pointerup', endDrag);
  svg.addEventListener('pointercancel', endDrag);

  document.getElementById('zoom-in').addEventListener('click', function () { zoomCentre(1.25); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoomCentre(1 / 1.25); });
  document.getElementById('fit').addEventListener('click', fit);
  window.addEventListener('beforeprint', fit);

  // Node details are written with textContent only: model strings never become markup.
  function select(node) {
    if (selected) { selected.classList.remove('selected'); }
    links.forEach(function (l) { l.classList.remove('incident'); });
    selected = node;
    if (!node) { return; }
    node.classList.add('selected');
    var index = node.getAttribute('data-index');
    links.forEach(function (l) {
      if (l.getAttribute('data-from') === index || l.getAttribute('data-to') === index) {
        l.classList.add('incident');
      }
    });
    var box = data.boxes[Number(index)];
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!box) { return; }
    heading.textContent = box.title;
    empty.hidden = true;
    box.details.forEach(function (d) {
      var dt = document.createElement('dt');
      dt.textContent = d[1];
      var dd = document.createElement('dd');
      dd.textContent = d[2];
      dd.setAttribute('data-key', d[0]);
      list.appendChild(dt);
      list.appendChild(dd);
    });
    document.body.setAttribute('data-selected', node.getAttribute('data-id'));
  }
  nodes.forEach(function (n) {
    n.addEventListener('click', function () { select(n); });
    n.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(n); }
    });
  });

  // `#select=ID` selects the node with that id (a link target, and what the browser test uses).
  function fromHash() {
    var m = /^#select=(\d+)$/.exec(window.location.hash);
    if (!m) { return; }
    var target = null;
    nodes.forEach(function (n) { if (n.getAttribute('data-id') === m[1]) { target = n; } });
    select(target);
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();

  // What the layout engine actually drew: boxes with a non-empty box, paths with length.
  var shownNodes = 0, shownLinks = 0;
  nodes.forEach(function (n) {
    var b = n.getBBox();
    if (b.width > 0 && b.height > 0) { shownNodes += 1; }
  });
  links.forEach(function (l) {
    var p = l.querySelector('path');
    if (p && p.getTotalLength() > 0) { shownLinks += 1; }
  });
  document.body.setAttribute('data-rendered-nodes', String(shownNodes));
  document.body.setAttribute('data-rendered-links', String(shownLinks));
  document.body.setAttribute('data-ready', '1');
}());
