/* The stakeholder map page: level and side filters, and details of the person under the
   pointer or keyboard focus. Progressive: without this script the whole map still shows,
   every person keeps their tooltip and link. Reads only the data-* attributes the SVG carries. */
(function () {
  "use strict";

  var canvas = document.getElementById("map-canvas");
  var form = document.getElementById("map-filters");
  var details = document.getElementById("map-details");
  var showing = document.getElementById("map-showing");
  var svg = canvas && canvas.querySelector("svg");
  if (!svg) {
    return;
  }
  var nodes = Array.prototype.slice.call(svg.querySelectorAll(".node"));
  var edges = Array.prototype.slice.call(svg.querySelectorAll(".edge"));
  var nodeById = {};
  var edgesById = {};
  nodes.forEach(function (node) {
    nodeById[node.dataset.id] = node;
    edgesById[node.dataset.id] = [];
  });
  edges.forEach(function (edge) {
    [edge.dataset.source, edge.dataset.target].forEach(function (id) {
      if (edgesById[id]) {
        edgesById[id].push(edge);
      }
    });
  });

  function wrapper(node) {
    // A person drawn as a link is wrapped in <a>: hide that too, so it leaves the tab order.
    var parent = node.parentNode;
    return parent && parent.classList && parent.classList.contains("node-link") ? parent : null;
  }

  function ticked(name) {
    var values = {};
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (box) {
      values[box.value] = box.checked;
    });
    return values;
  }

  function applyFilters() {
    var levels = ticked("level");
    var sides = ticked("side");
    var shown = 0;
    nodes.forEach(function (node) {
      var hidden = levels[node.dataset.level] === false || sides[node.dataset.side] === false;
      node.classList.toggle("is-hidden", hidden);
      var link = wrapper(node);
      if (link) {
        link.classList.toggle("is-hidden", hidden);
      }
      if (!hidden) {
        shown += 1;
      }
    });
    edges.forEach(function (edge) {
      var source = nodeById[edge.dataset.source];
      var target = nodeById[edge.dataset.target];
      var hidden =
        !source || !target ||
        source.classList.contains("is-hidden") || target.classList.contains("is-hidden");
      edge.classList.toggle("is-hidden", hidden);
    });
    showing.textContent =
      shown === nodes.length
        ? "Showing all " + nodes.length + " people"
        : "Showing " + shown + " of " + nodes.length + " people";
  }

  function addRow(list, term, value) {
    if (!value) {
      return;
    }
    var row = document.createElement("div");
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    row.appendChild(dt);
    row.appendChild(dd);
    list.appendChild(row);
  }

  function describe(node) {
    var data = node.dataset;
    var heading = document.createElement("h2");
    heading.textContent = data.name;
    var parts = [heading];
    if (data.title) {
      var title = document.createElement("p");
      title.className = "muted";
      title.textContent = data.title;
      parts.push(title);
    }
    var list = document.createElement("dl");
    list.className = "map-facts";
    var level = data.level ? data.level.charAt(0).toUpperCase() + data.level.slice(1) : "No level";
    addRow(list, "Level", level + (data.side === "external" ? " · their side" : " · our side"));
    addRow(list, "Roles", data.roles);
    addRow(list, "Team", data.teamRole);
    addRow(list, "Coverage", data.coverage);
    if (data.score) addRow(list, "Latest score", data.score);
    addRow(list, "Latest sentiment", data.sentiment || "none yet");
    parts.push(list);
    if (data.flags) {
      var flags = document.createElement("p");
      flags.className = "map-gap";
      flags.textContent = data.flags.charAt(0).toUpperCase() + data.flags.slice(1);
      parts.push(flags);
    }
    var link = wrapper(node);
    if (link) {
      var open = document.createElement("a");
      open.href = link.getAttribute("href");
      open.textContent = "Open " + data.name;
      parts.push(open);
    }
    details.replaceChildren.apply(details, parts);
  }

  var current = null;

  function highlight(node) {
    if (current === node) {
      return;
    }
    unhighlight();
    current = node;
    svg.classList.add("has-focus");
    node.classList.add("is-focus");
    (edgesById[node.dataset.id] || []).forEach(function (edge) {
      edge.classList.add("is-linked");
      [edge.dataset.source, edge.dataset.target].forEach(function (id) {
        if (nodeById[id]) {
          nodeById[id].classList.add("is-linked");
        }
      });
    });
    describe(node);
  }

  function unhighlight() {
    if (!current) {
      return;
    }
    svg.classList.remove("has-focus");
    svg.querySelectorAll(".is-linked, .is-focus").forEach(function (element) {
      element.classList.remove("is-linked", "is-focus");
    });
    current = null;
  }

  function nodeOf(target) {
    if (!target || !target.closest) {
      return null;
    }
    return target.closest(".node") || (target.querySelector && target.querySelector(".node"));
  }

  canvas.addEventListener("mouseover", function (event) {
    var node = nodeOf(event.target);
    if (node && svg.contains(node)) {
      highlight(node);
    }
  });
  canvas.addEventListener("mouseout", function (event) {
    if (!nodeOf(event.relatedTarget)) {
      unhighlight(); // the details stay, so they can be read after the pointer moves on
    }
  });
  canvas.addEventListener("focusin", function (event) {
    var node = nodeOf(event.target);
    if (node) {
      highlight(node);
    }
  });
  canvas.addEventListener("focusout", function () {
    unhighlight();
  });

  form.hidden = false;
  form.addEventListener("change", applyFilters);
  applyFilters();
})();
