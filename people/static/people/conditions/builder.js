/* The visual condition builder (people/widgets.py). No framework: it keeps a JSON model, renders it
 * into plain elements and writes the JSON back into the hidden textarea on every change. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function select(options, value, onchange, attrs) {
    var s = el("select", Object.assign({ class: "cb-select" }, attrs || {}));
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); });
    return s;
  }

  function input(type, value, onchange, attrs) {
    var i = el("input", Object.assign({ type: type, class: "cb-input" }, attrs || {}));
    if (value !== undefined && value !== null) i.value = value;
    i.addEventListener("input", function () { onchange(i.value, i); });
    return i;
  }

  function Builder(root) {
    this.root = root;
    this.textarea = root.querySelector("textarea.cb-raw");
    this.tree = root.querySelector("[data-cb-tree]");
    this.countEl = root.querySelector("[data-cb-count]");
    this.errorsEl = root.querySelector("[data-cb-errors]");
    this.sampleEl = root.querySelector("[data-cb-sample]");
    this.mode = root.dataset.mode;
    this.previewUrl = root.dataset.previewUrl || "";
    this.meta = null;
    var self = this;
    // mode "filters": the event whose properties are suggested is typed in another field of the form.
    this.eventInput = root.dataset.eventField ? document.querySelector("[name=" + root.dataset.eventField + "]") : null;
    if (this.eventInput) this.eventInput.addEventListener("input", function () { if (self.meta) self.render(); });
    var raw = root.querySelector("[data-cb-raw-toggle]");
    raw.addEventListener("change", function () {
      self.textarea.style.display = raw.checked ? "block" : "none";
      if (!raw.checked) self.load();
    });
    this.textarea.addEventListener("change", function () { self.load(); });
    if (root.dataset.typeField) {
      var typeInput = document.querySelector("[name=" + root.dataset.typeField + "]:checked") ||
        document.querySelector("select[name=" + root.dataset.typeField + "]");
      this.typeName = root.dataset.typeField;
      document.querySelectorAll("[name=" + root.dataset.typeField + "]").forEach(function (t) {
        t.addEventListener("change", function () { self.model = null; self.load(); });
      });
      this._typeInput = typeInput;
    }
    fetch(root.dataset.metadataUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (meta) { self.meta = meta; self.load(); });
  }

  Builder.prototype.audienceType = function () {
    if (!this.typeName) return this.mode === "funnel" ? "funnel" : "rules";
    var checked = document.querySelector("[name=" + this.typeName + "]:checked");
    var sel = document.querySelector("select[name=" + this.typeName + "]");
    var hidden = document.querySelector("input[type=hidden][name=" + this.typeName + "]");
    var text = this.root.dataset.fixedType;
    return (checked && checked.value) || (sel && sel.value) || (hidden && hidden.value) || text || "rules";
  };

  Builder.prototype.kind = function () {
    if (this.mode === "funnel") return "funnel";
    if (this.mode === "rules") return "rules";
    if (this.mode === "filters") return "filters";
    if (this.mode === "audience") return this.audienceType() === "funnel" ? "funnel" : "condition";
    return "condition";
  };

  Builder.prototype.load = function () {
    if (!this.meta) return;
    var data = null;
    try { data = this.textarea.value.trim() ? JSON.parse(this.textarea.value) : null; } catch (e) { data = null; }
    var kind = this.kind();
    if (this.mode === "audience" && data) data = kind === "funnel" ? (data.steps ? data : null) : (data.condition || null);
    if (kind === "rules" || kind === "filters") {
      this.model = Array.isArray(data) ? data : [];
    } else if (kind === "funnel") {
      this.model = data && data.steps ? data : { steps: [{ event: "", filters: [] }, { event: "", filters: [] }] };
    } else {
      this.model = data && typeof data === "object" && !data.steps ? data : { and: [] };
    }
    this.render();
  };

  Builder.prototype.value = function () {
    if (this.mode === "audience") return this.kind() === "funnel" ? this.model : { condition: this.model };
    return this.model;
  };

  Builder.prototype.changed = function (rerender) {
    this.textarea.value = JSON.stringify(this.value());
    if (rerender) this.render();
    this.schedulePreview();
  };

  Builder.prototype.render = function () {
    this.tree.innerHTML = "";
    if (this.kind() === "rules") this.tree.appendChild(this.scoringRules(this.model));
    else if (this.kind() === "filters") this.tree.appendChild(this.filterList(this.model));
    else if (this.kind() === "funnel") this.tree.appendChild(this.funnel(this.model));
    else this.tree.appendChild(this.node(this.model, function () {}, true));
    this.textarea.value = JSON.stringify(this.value());
    this.schedulePreview();
  };

  /* ---------------------------------------------------------------- condition nodes */

  Builder.prototype.attributeByKey = function (key) {
    return (this.meta.attributes || []).filter(function (a) { return a.key === key; })[0];
  };

  Builder.prototype.eventByName = function (name) {
    return (this.meta.events || []).filter(function (e) { return e.name === name; })[0];
  };

  Builder.prototype.label = function (op) { return (this.meta.labels || {})[op] || op.replace(/_/g, " "); };

  // node(data, replace(newData), isRoot): an element editing `data` in place.
  Builder.prototype.node = function (data, replace, isRoot) {
    var self = this;
    var negated = false;
    var inner = data;
    if (data && data.not) { negated = true; inner = data.not; }
    if (inner && (inner.and || inner.or)) return this.group(data, replace, isRoot);
    var box = el("div", { class: "cb-leaf" });
    var body;
    if (inner.attribute !== undefined) body = this.attribute(inner);
    else if (inner.event !== undefined) body = this.eventCondition(inner, false);
    else body = this.lastContacted(inner);
    var not = el("label", { class: "cb-not" }, [
      el("input", { type: "checkbox", "data-cb": "not", checked: negated ? "checked" : null, onchange: function (e) {
        replace(e.target.checked ? { not: inner } : inner);
        self.changed(true);
      } }), " not"]);
    box.appendChild(not);
    box.appendChild(body);
    return box;
  };

  Builder.prototype.group = function (data, replace, isRoot) {
    var self = this;
    var negated = !!data.not;
    var inner = negated ? data.not : data;
    var op = inner.and ? "and" : "or";
    var mode = (negated ? "not_" : "") + op;
    var children = inner[op];
    var box = el("div", { class: "cb-group" + (isRoot ? " cb-root-group" : "") });
    var head = el("div", { class: "cb-group-head" });
    head.appendChild(select(
      [["and", "All of these (AND)"], ["or", "Any of these (OR)"], ["not_or", "None of these"], ["not_and", "Not all of these"]],
      mode,
      function (v) {
        var group = {}; group[v.replace("not_", "")] = children;
        var next = v.indexOf("not_") === 0 ? { not: group } : group;
        if (isRoot) self.model = next; else replace(next);
        self.changed(true);
      },
      { "data-cb": "group-op" }
    ));
    box.appendChild(head);
    var list = el("div", { class: "cb-children" });
    children.forEach(function (child, i) {
      var row = el("div", { class: "cb-row" });
      row.appendChild(self.node(child, function (next) { children[i] = next; }, false));
      row.appendChild(el("button", { type: "button", class: "cb-remove", title: "Remove", "data-cb": "remove", text: "×", onclick: function () {
        children.splice(i, 1); self.changed(true);
      } }));
      list.appendChild(row);
    });
    box.appendChild(list);
    var firstAttr = (this.meta.attributes[0] || {}).key || "";
    var add = el("div", { class: "cb-add" }, [
      el("button", { type: "button", "data-cb": "add-attribute", text: "+ Attribute", onclick: function () {
        children.push(self.defaultAttribute(firstAttr)); self.changed(true);
      } }),
      el("button", { type: "button", "data-cb": "add-event", text: "+ Event", onclick: function () {
        children.push({ event: ((self.meta.events[0] || {}).name) || "", count: { op: "gte", value: 1 }, window: { type: "any" }, filters: [] });
        self.changed(true);
      } }),
      el("button", { type: "button", "data-cb": "add-contacted", text: "+ Last contacted", onclick: function () {
        children.push({ last_contacted: { op: "more_than", value: 7 } }); self.changed(true);
      } }),
      el("button", { type: "button", "data-cb": "add-group", text: "+ Group", onclick: function () {
        children.push({ or: [] }); self.changed(true);
      } }),
    ]);
    box.appendChild(add);
    return box;
  };

  Builder.prototype.defaultAttribute = function (key) {
    var attr = this.attributeByKey(key) || { type: "text" };
    var op = (this.meta.operators[attr.type] || ["equals"])[0];
    return { attribute: key, op: op, value: this.defaultValue(attr.type, op) };
  };

  Builder.prototype.defaultValue = function (type, op) {
    if (op === "is_empty" || op === "is_not_empty" || type === "list") return undefined;
    if (op === "between") return type === "number" ? [0, 0] : ["", ""];
    if (op === "in" || op === "not_in") return [];
    if (op === "within_last_days" || op === "more_than_days_ago" || op === "within_next_days") return 7;
    if (type === "number") return 0;
    if (type === "boolean") return true;
    return "";
  };

  Builder.prototype.attribute = function (data) {
    var self = this;
    var box = el("span", { class: "cb-attribute" });
    var groups = {};
    this.meta.attributes.forEach(function (a) { (groups[a.kind] = groups[a.kind] || []).push(a); });
    var s = el("select", { class: "cb-select", "data-cb": "attribute" });
    Object.keys(groups).forEach(function (kind) {
      var og = el("optgroup", { label: kind });
      groups[kind].forEach(function (a) {
        var o = el("option", { value: a.key, text: a.label + " (" + a.key + ")" });
        if (a.key === data.attribute) o.selected = true;
        og.appendChild(o);
      });
      s.appendChild(og);
    });
    s.addEventListener("change", function () {
      var next = self.defaultAttribute(s.value);
      Object.keys(data).forEach(function (k) { delete data[k]; });
      Object.assign(data, next);
      self.changed(true);
    });
    box.appendChild(s);
    var attr = this.attributeByKey(data.attribute) || { type: "text" };
    box.appendChild(this.predicate(data, attr.type, attr));
    return box;
  };

  // Operator select + typed value input(s), editing data.op / data.value in place.
  Builder.prototype.predicate = function (data, type, attr) {
    var self = this;
    var box = el("span", { class: "cb-predicate" });
    var ops = this.meta.operators[type] || [];
    box.appendChild(select(ops.map(function (o) { return [o, self.label(o)]; }), data.op, function (v) {
      data.op = v; data.value = self.defaultValue(type, v);
      if (data.value === undefined) delete data.value;
      self.changed(true);
    }, { "data-cb": "op" }));
    box.appendChild(this.valueInput(data, type));
    return box;
  };

  Builder.prototype.valueInput = function (data, type) {
    var self = this;
    var op = data.op;
    if (op === "is_empty" || op === "is_not_empty") return el("span");
    if (type === "list") return this.listItems(data);
    var set = function (v) { data.value = v; self.changed(false); };
    var num = function (v) { var n = parseFloat(v); return isNaN(n) ? v : n; };
    var int = function (v) { var n = parseInt(v, 10); return isNaN(n) ? v : n; };
    if (op === "within_last_days" || op === "more_than_days_ago" || op === "within_next_days")
      return input("number", data.value, function (v) { set(int(v)); }, { min: 0, step: 1, "data-cb": "value" });
    if (op === "in" || op === "not_in") {
      var shown = (data.value || []).join(", ");
      return input("text", shown, function (v) {
        var items = v.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        set(type === "number" ? items.map(num) : items);
      }, { placeholder: "a, b, c", "data-cb": "value" });
    }
    var htmlType = type === "number" ? "number" : (type === "date" || type === "datetime") ? "date" : "text";
    if (type === "boolean")
      return select([["true", "true"], ["false", "false"]], String(data.value), function (v) { set(v === "true"); }, { "data-cb": "value" });
    if (op === "between") {
      var pair = Array.isArray(data.value) ? data.value.slice() : ["", ""];
      var conv = type === "number" ? num : function (v) { return v; };
      return el("span", {}, [
        input(htmlType, pair[0], function (v) { pair[0] = conv(v); set(pair.slice()); }, { "data-cb": "value-low", step: "any" }),
        " and ",
        input(htmlType, pair[1], function (v) { pair[1] = conv(v); set(pair.slice()); }, { "data-cb": "value-high", step: "any" }),
      ]);
    }
    return input(htmlType, data.value, function (v) { set(type === "number" ? num(v) : v); }, { "data-cb": "value", step: "any" });
  };

  // A list attribute's quantifier: item conditions on the fields of its schema, and for "count"
  // the comparison with a number.
  Builder.prototype.listItems = function (data) {
    var self = this;
    delete data.value;
    data.where = data.where || [];
    var attr = this.attributeByKey(data.attribute) || { fields: [] };
    var fields = attr.fields || [];
    var typeOf = function (key) {
      var f = fields.filter(function (x) { return x.key === key; })[0];
      var t = f ? f.type : "text";
      return { decimal: "number", integer: "number", list: "text" }[t] || t;
    };
    var box = el("div", { class: "cb-filters", "data-cb": "list-items" });
    if (data.op === "count") {
      var count = data.count || { op: "gte", value: 1 };
      data.count = count;
      box.appendChild(el("span", {}, [
        "number of matching items ",
        select(this.meta.count_ops.map(function (o) { return [o, self.label(o)]; }), count.op,
          function (v) { count.op = v; self.changed(false); }, { "data-cb": "count-op" }),
        input("number", count.value, function (v) { count.value = parseInt(v, 10) || 0; self.changed(false); },
          { min: 0, step: 1, "data-cb": "count-value", class: "cb-input cb-narrow" }),
      ]));
    }
    data.where.forEach(function (item, i) {
      var row = el("div", { class: "cb-filter" }, [el("span", { text: "whose " })]);
      var options = fields.length ? fields.map(function (f) { return [f.key, f.key]; }) : [[item.field || "", item.field || "field"]];
      row.appendChild(select(options, item.field, function (v) {
        var t = typeOf(v);
        var op = (self.meta.operators[t] || ["equals"])[0];
        data.where[i] = { field: v, op: op, value: self.defaultValue(t, op) };
        if (data.where[i].value === undefined) delete data.where[i].value;
        self.changed(true);
      }, { "data-cb": "item-field" }));
      row.appendChild(self.predicate(item, typeOf(item.field)));
      row.appendChild(el("button", { type: "button", class: "cb-remove", text: "×", "data-cb": "remove-item-condition", onclick: function () {
        data.where.splice(i, 1); self.changed(true);
      } }));
      box.appendChild(row);
    });
    box.appendChild(el("button", { type: "button", class: "cb-small", "data-cb": "add-item-condition", text: "+ item condition", onclick: function () {
      var key = (fields[0] || {}).key || "";
      var t = typeOf(key);
      var op = (self.meta.operators[t] || ["equals"])[0];
      var cond = { field: key, op: op, value: self.defaultValue(t, op) };
      if (cond.value === undefined) delete cond.value;
      data.where.push(cond);
      self.changed(true);
    } }));
    return box;
  };

  Builder.prototype.eventCondition = function (data, inFunnel, stepIndex) {
    var self = this;
    var box = el("span", { class: "cb-event" });
    if (!inFunnel) box.appendChild(el("strong", { text: "did " }));
    var listId = "cb-events-" + Math.random().toString(36).slice(2);
    var dl = el("datalist", { id: listId });
    this.meta.events.forEach(function (e) { dl.appendChild(el("option", { value: e.name })); });
    box.appendChild(dl);
    var propsList = el("datalist", { id: "cb-props-" + Math.random().toString(36).slice(2) });
    var fillProps = function () {
      propsList.innerHTML = "";
      ((self.eventByName(data.event) || {}).properties || []).forEach(function (p) { propsList.appendChild(el("option", { value: p.key })); });
    };
    fillProps();
    box.appendChild(propsList);
    // Typing the name only updates the property suggestions: no re-render, so focus moves on normally.
    box.appendChild(input("text", data.event, function (v) { data.event = v; fillProps(); self.changed(false); },
      { list: listId, placeholder: "event name", "data-cb": "event" }));
    if (!inFunnel) {
      var count = data.count || { op: "gte", value: 1 };
      data.count = count;
      box.appendChild(el("span", { text: " count " }));
      box.appendChild(select(this.meta.count_ops.map(function (o) { return [o, self.label(o)]; }), count.op,
        function (v) { count.op = v; self.changed(false); }, { "data-cb": "count-op" }));
      box.appendChild(input("number", count.value, function (v) { count.value = parseInt(v, 10) || 0; self.changed(false); },
        { min: 0, step: 1, "data-cb": "count-value", class: "cb-input cb-narrow" }));
    }
    if (!inFunnel || stepIndex === 0) box.appendChild(this.windowEditor(data));
    if (this.meta.channels.length) {
      box.appendChild(el("span", { text: " on " }));
      box.appendChild(select([["", "any channel"]].concat(this.meta.channels.map(function (c) { return [c.key, c.name]; })),
        data.channel || "", function (v) { if (v) data.channel = v; else delete data.channel; self.changed(false); }, { "data-cb": "channel" }));
    }
    box.appendChild(this.filters(data, inFunnel && stepIndex > 0, propsList.id));
    return box;
  };

  Builder.prototype.windowEditor = function (data) {
    var self = this;
    var w = data.window || { type: "any" };
    data.window = w;
    var box = el("span", { class: "cb-window" });
    var labels = { any: "any time", within: "within the last", before: "before the last", between: "between the last", since: "since" };
    box.appendChild(select(this.meta.window_types.map(function (t) { return [t, labels[t] || t]; }), w.type, function (v) {
      if (v === "since") data.window = { type: "since", value: new Date().toISOString().slice(0, 10) };
      else data.window = v === "any" ? { type: "any" } : { type: v, value: typeof w.value === "number" ? w.value : 30, unit: w.unit || "days" };
      if (v === "between") data.window.end = (data.window.value || 30) * 2;
      self.changed(true);
    }, { "data-cb": "window" }));
    if (w.type === "since") {
      box.appendChild(input("date", w.value, function (v) { w.value = v; self.changed(false); }, { "data-cb": "window-since" }));
    } else if (w.type !== "any") {
      box.appendChild(input("number", w.value, function (v) { w.value = parseInt(v, 10) || 0; self.changed(false); },
        { min: 0, step: 1, "data-cb": "window-value", class: "cb-input cb-narrow" }));
      if (w.type === "between") {
        box.appendChild(el("span", { text: " and " }));
        box.appendChild(input("number", w.end, function (v) { w.end = parseInt(v, 10) || 0; self.changed(false); },
          { min: 1, step: 1, "data-cb": "window-end", class: "cb-input cb-narrow" }));
      }
      box.appendChild(select(this.meta.units.map(function (u) { return [u, u]; }), w.unit || "days",
        function (v) { w.unit = v; self.changed(false); }, { "data-cb": "window-unit" }));
    }
    return box;
  };

  Builder.prototype.filters = function (data, allowSameAs, listId, knownProps) {
    var self = this;
    data.filters = data.filters || [];
    var box = el("div", { class: "cb-filters" });
    var ev = knownProps ? { properties: knownProps } : (this.eventByName(data.event) || { properties: [] });
    data.filters.forEach(function (f, i) {
      var row = el("div", { class: "cb-filter" });
      row.appendChild(el("span", { text: "where " }));
      row.appendChild(input("text", f.property, function (v) { f.property = v; self.changed(false); },
        { list: listId, placeholder: "property", "data-cb": "property" }));
      var prop = ev.properties.filter(function (p) { return p.key === f.property; })[0];
      var type = f.same_as !== undefined ? "same" : (prop ? prop.type : (typeof f.value === "number" ? "number" : typeof f.value === "boolean" ? "boolean" : "text"));
      if (type === "list" || type === "date" || type === "datetime") type = "text";
      var types = [["text", "text"], ["number", "number"], ["boolean", "yes/no"]];
      if (allowSameAs) types.push(["same", "same as previous step"]);
      row.appendChild(select(types, type, function (v) {
        var next = { property: f.property };
        if (v === "same") next.same_as = f.property;
        else { next.op = "equals"; next.value = self.defaultValue(v, "equals"); }
        data.filters[i] = next; self.changed(true);
      }, { "data-cb": "property-type" }));
      if (type === "same") {
        row.appendChild(el("span", { text: " as the previous step's " }));
        row.appendChild(input("text", f.same_as, function (v) { f.same_as = v; self.changed(false); }, { "data-cb": "same-as" }));
      } else {
        row.appendChild(self.predicate(f, type));
      }
      row.appendChild(el("button", { type: "button", class: "cb-remove", text: "×", "data-cb": "remove-filter", onclick: function () {
        data.filters.splice(i, 1); self.changed(true);
      } }));
      box.appendChild(row);
    });
    box.appendChild(el("button", { type: "button", class: "cb-small", "data-cb": "add-filter", text: "+ property filter", onclick: function () {
      var props = knownProps || (self.eventByName(data.event) || { properties: [] }).properties;
      data.filters.push({ property: (props[0] || {}).key || "", op: "equals", value: "" }); self.changed(true);
    } }));
    return box;
  };

  Builder.prototype.lastContacted = function (data) {
    var self = this;
    var spec = data.last_contacted;
    var box = el("span", { class: "cb-contacted" }, [el("strong", { text: "last contacted " })]);
    var labels = { more_than: "more than (days ago)", less_than: "less than (days ago)", exactly: "exactly (days ago)",
      before: "before", after: "after", on: "on", unknown: "never" };
    box.appendChild(select(this.meta.contact_ops.map(function (o) { return [o, labels[o] || o]; }), spec.op, function (v) {
      spec.op = v;
      if (v === "unknown") delete spec.value;
      else if (v === "before" || v === "after") spec.value = new Date().toISOString().slice(0, 19) + "+00:00";
      else if (v === "on") spec.value = new Date().toISOString().slice(0, 10);
      else spec.value = 7;
      self.changed(true);
    }, { "data-cb": "contact-op" }));
    if (spec.op === "more_than" || spec.op === "less_than" || spec.op === "exactly")
      box.appendChild(input("number", spec.value, function (v) { spec.value = parseInt(v, 10) || 0; self.changed(false); }, { min: 0, "data-cb": "value" }));
    else if (spec.op === "on")
      box.appendChild(input("date", spec.value, function (v) { spec.value = v; self.changed(false); }, { "data-cb": "value" }));
    else if (spec.op === "before" || spec.op === "after")
      box.appendChild(input("datetime-local", (spec.value || "").slice(0, 16), function (v) { spec.value = v + ":00+00:00"; self.changed(false); }, { "data-cb": "value" }));
    if (this.meta.channels.length)
      box.appendChild(select([["", "on any channel"]].concat(this.meta.channels.map(function (c) { return [c.key, "on " + c.name]; })),
        spec.channel || "", function (v) { if (v) spec.channel = v; else delete spec.channel; self.changed(false); }, { "data-cb": "channel" }));
    return box;
  };

  /* ---------------------------------------------------------------- property filters alone */

  // [{"property", "op", "value"}] (a computed aggregate's filters): the event leaf's filter rows, with
  // properties suggested from the schema of the event named in the form's event field.
  Builder.prototype.filterList = function (filters) {
    var eventName = this.eventInput ? this.eventInput.value.trim() : "";
    var propsList = el("datalist", { id: "cb-props-" + Math.random().toString(36).slice(2) });
    var ev = this.eventByName(eventName);
    var props = ev ? ev.properties : [];
    if (!ev) {
      // Unknown or no event: suggest every property of every defined event.
      var seen = {};
      props = [];
      (this.meta.events || []).forEach(function (e) {
        (e.properties || []).forEach(function (p) { if (!seen[p.key]) { seen[p.key] = 1; props.push(p); } });
      });
    }
    props.forEach(function (p) { propsList.appendChild(el("option", { value: p.key })); });
    var holder = { event: eventName, filters: filters };
    var box = el("div", { class: "cb-filter-list", "data-cb": "filters" }, [propsList, this.filters(holder, false, propsList.id, props)]);
    if (!filters.length) box.insertBefore(el("span", { class: "cb-empty", text: "Every event counts (no property filter). " }), box.lastChild);
    return box;
  };

  /* ---------------------------------------------------------------- scoring rules */

  // [{"condition", "points", "label"}]: each rule a label, its points and a condition tree.
  Builder.prototype.scoringRules = function (rules) {
    var self = this;
    var box = el("ol", { class: "cb-funnel", "data-cb": "rules" });
    rules.forEach(function (rule, i) {
      rule.condition = rule.condition || { and: [] };
      var li = el("li", { class: "cb-step", "data-cb-rule": i });
      li.appendChild(el("div", { class: "cb-step-head" }, [
        input("text", rule.label || "", function (v) { rule.label = v; self.changed(false); }, { placeholder: "label", "data-cb": "rule-label" }),
        input("number", rule.points, function (v) { rule.points = parseInt(v, 10) || 0; self.changed(false); },
          { step: 1, "data-cb": "rule-points", class: "cb-input cb-narrow" }),
        el("span", { text: " points when:" }),
        el("button", { type: "button", class: "cb-remove", text: "×", "data-cb": "remove-rule", onclick: function () {
          rules.splice(i, 1); self.changed(true);
        } }),
      ]));
      var holder = { value: rule.condition };
      var root = rule.condition && (rule.condition.and || rule.condition.or || rule.condition.not) ? rule.condition : { and: [rule.condition] };
      rule.condition = root;
      li.appendChild(self.group(root, function (next) { rule.condition = next; holder.value = next; }, false));
      box.appendChild(li);
    });
    return el("div", {}, [box, el("button", { type: "button", "data-cb": "add-rule", text: "+ Rule", onclick: function () {
      rules.push({ label: "", points: 10, condition: { and: [] } }); self.changed(true);
    } })]);
  };

  /* ---------------------------------------------------------------- funnels */

  Builder.prototype.funnel = function (data) {
    var self = this;
    var box = el("ol", { class: "cb-funnel" });
    data.steps.forEach(function (step, i) {
      var li = el("li", { class: "cb-step", "data-cb-step": i });
      var head = el("div", { class: "cb-step-head" }, [el("strong", { text: "Step " + (i + 1) + " " })]);
      if (i > 0) {
        head.appendChild(el("label", {}, [el("input", { type: "checkbox", "data-cb": "did-not", checked: step.did_not ? "checked" : null,
          onchange: function (e) { if (e.target.checked) step.did_not = true; else delete step.did_not; self.changed(true); } }), " did not "]));
        var within = step.within || null;
        head.appendChild(el("label", {}, [el("input", { type: "checkbox", "data-cb": "within", checked: within ? "checked" : null,
          onchange: function (e) { if (e.target.checked) step.within = { value: 1, unit: "hours" }; else delete step.within; self.changed(true); } }), " within "]));
        if (within) {
          head.appendChild(input("number", within.value, function (v) { within.value = parseInt(v, 10) || 1; self.changed(false); },
            { min: 1, step: 1, "data-cb": "within-value", class: "cb-input cb-narrow" }));
          head.appendChild(select(self.meta.units.map(function (u) { return [u, u]; }), within.unit || "days",
            function (v) { within.unit = v; self.changed(false); }, { "data-cb": "within-unit" }));
          head.appendChild(el("span", { text: " of the previous step" }));
        } else {
          head.appendChild(el("span", { text: "then (any time after the previous step)" }));
        }
      }
      if (data.steps.length > 2) head.appendChild(el("button", { type: "button", class: "cb-remove", text: "×", "data-cb": "remove-step", onclick: function () {
        data.steps.splice(i, 1); if (data.steps.length) { delete data.steps[0].within; delete data.steps[0].did_not; } self.changed(true);
      } }));
      li.appendChild(head);
      if (i === 0 && !step.window) step.window = { type: "any" };
      li.appendChild(self.eventCondition(step, true, i));
      box.appendChild(li);
    });
    var wrap = el("div", {}, [box, el("button", { type: "button", "data-cb": "add-step", text: "+ Step", onclick: function () {
      data.steps.push({ event: "", filters: [] }); self.changed(true);
    } })]);
    return wrap;
  };

  /* ---------------------------------------------------------------- live count */

  Builder.prototype.schedulePreview = function () {
    var self = this;
    if (!this.previewUrl || this.kind() === "rules") return;
    clearTimeout(this._timer);
    this._timer = setTimeout(function () { self.preview(); }, 400);
  };

  function csrf() {
    var m = document.cookie.match(/csrftoken=([^;]+)/);
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return m ? m[1] : (input ? input.value : "");
  }

  Builder.prototype.preview = function () {
    var self = this;
    var anon = document.querySelector("[name=include_anonymous]");
    var body = { type: this.kind() === "funnel" ? "funnel" : "rules", include_anonymous: !!(anon && anon.checked),
      definition: this.mode === "condition" ? { condition: this.model } : this.value() };
    this.countEl.textContent = "Counting…";
    fetch(this.previewUrl, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (res) {
        self.errorsEl.innerHTML = "";
        self.sampleEl.innerHTML = "";
        if (res[0] !== 200) {
          self.countEl.textContent = "Not valid yet";
          Object.keys(res[1]).forEach(function (path) {
            [].concat(res[1][path]).forEach(function (m) { self.errorsEl.appendChild(el("li", { text: path + ": " + m })); });
          });
          return;
        }
        self.countEl.textContent = res[1].count + " matching " + (res[1].count === 1 ? "person" : "people");
        self.countEl.setAttribute("data-count", res[1].count);
        (res[1].sample || []).forEach(function (p) {
          self.sampleEl.appendChild(el("span", { class: "cb-chip", text: p.name || p.email || ("#" + p.id) }));
        });
      })
      .catch(function () { self.countEl.textContent = "Count unavailable"; });
  };

  function init() {
    document.querySelectorAll("[data-condition-builder]").forEach(function (root) {
      if (!root._builder) root._builder = new Builder(root);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
  window.AttuneConditionBuilder = { init: init };
})();
