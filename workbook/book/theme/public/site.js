// The course site's only script: search over the index MyST built (window.WORKBOOK_SEARCH, loaded
// by the search page), so search works from a folder opened with file:// as well as from a server.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var query = (params.get("q") || "").trim();
  var box = document.querySelector("form.search input[name=q]");
  if (box && query) box.value = query;

  var results = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!results || !status || !window.WORKBOOK_SEARCH) return;
  if (!query) return;

  var words = query.toLowerCase().split(/\s+/).filter(Boolean);
  var seen = {};
  var hits = window.WORKBOOK_SEARCH.filter(function (record) {
    var text = (record.title + " " + record.content).toLowerCase();
    return words.every(function (word) { return text.indexOf(word) !== -1; });
  }).filter(function (record) {
    if (seen[record.url]) return false;
    seen[record.url] = true;
    return true;
  });

  status.textContent = hits.length
    ? hits.length + (hits.length === 1 ? " place mentions " : " places mention ") + "\u201c" + query + "\u201d."
    : "Nothing in the course mentions \u201c" + query + "\u201d. Try fewer or other words.";
  hits.slice(0, 50).forEach(function (record) {
    var item = document.createElement("li");
    var link = document.createElement("a");
    link.href = "../" + record.url;
    link.textContent = record.title;
    item.appendChild(link);
    var content = record.content || "";
    var at = content.toLowerCase().indexOf(words[0]);
    if (at !== -1) {
      var snippet = document.createElement("p");
      var start = Math.max(0, at - 60);
      snippet.textContent = (start > 0 ? "\u2026" : "") + content.slice(start, at + 120).replace(/\s+/g, " ") + "\u2026";
      item.appendChild(snippet);
    }
    results.appendChild(item);
  });
})();

// Diagrams: mermaid.min.js is on the pages that have one, when the build could ship it.
(function () {
  "use strict";
  if (!window.mermaid) return;
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  window.mermaid.run({ querySelector: "pre.mermaid" });
})();
