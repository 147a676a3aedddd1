"""The HTML report of a heap dump (``python -m heaplens show --html``): one
self-contained file - inline style and script, no network - with the top
retainers and the by-type table (click a header to sort), the dominator
tree (click a node to expand it) and the shortest path to a root of any
row (click the row).

It takes plain data (see ``render_dump_html``), built by the CLI from a
HeapDump; it imports no analysis module."""

from __future__ import annotations

import html
import json
from typing import Any, Mapping, Sequence

from heaplens._format import human_size

_STYLE = """<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em 2em;color:#111}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table.hl-sort{border-collapse:collapse}
table.hl-sort th,table.hl-sort td{padding:2px 10px;border-bottom:1px solid #ddd}
table.hl-sort th{cursor:pointer;user-select:none;background:#f2f2f2;text-align:left}
table.hl-sort th.hl-asc:after{content:" \\25B2"}table.hl-sort th.hl-desc:after{content:" \\25BC"}
table.hl-sort tbody tr{cursor:pointer}table.hl-sort tbody tr:hover{background:#eef4ff}
table.hl-sort tbody tr.hl-picked{background:#dbe8ff}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.t{max-width:28em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#hl-path{background:#fffbe6;border:1px solid #e6d98c;padding:6px 10px;margin:4px 0;
font-family:ui-monospace,monospace;font-size:13px;white-space:pre-wrap;cursor:auto}
ul.hl-tree{list-style:none;padding-left:1.3em;margin:0}
ul.hl-tree li{margin:1px 0}
.hl-node{cursor:pointer}.hl-node:hover{background:#eef4ff}
.hl-tog{display:inline-block;width:1.1em;color:#555;font-family:monospace}
.hl-rest{color:#666;font-style:italic}
.hl-dim{color:#555}code{font-size:12px}
.hl-note{color:#444;max-width:60em}
</style>"""

# The page's behaviour: sort a table by the clicked header (numbers by
# their data-v value), show the clicked row's path to a root, build a tree
# node's children when it is first expanded (so a large tree costs nothing
# until it is opened).
_SCRIPT = r"""<script>
(function(){
var D=JSON.parse(document.getElementById('hl-data').textContent);
function hs(n){var u=['B','KiB','MiB','GiB','TiB','PiB'],v=n,i=0;
 while(v>=1024&&i<u.length-1){v/=1024;i++;}return i?v.toFixed(1)+' '+u[i]:n+' B';}
function fmt(n){return String(n).replace(/\B(?=(\d{3})+(?!\d))/g,',');}
var box=document.getElementById('hl-path'),home=document.getElementById('hl-home');
// The path is shown right under what was clicked: a row of its own under a
// table row, a line under a tree node; the box goes home before a sort.
function unplace(){
 var tr=document.getElementById('hl-pathrow');
 home.appendChild(box);
 if(tr)tr.parentNode.removeChild(tr);
}
function showPath(id,what,at){
 var p=D.paths[id];
 box.textContent=(what?what+' '+id+': ':id+': ')+(p===undefined?'(no path recorded for this object)':p);
 box.setAttribute('data-id',id);
 var old=document.getElementById('hl-pathrow');
 if(at.tagName==='TR'){
  var tr=document.createElement('tr'),td=document.createElement('td');
  tr.id='hl-pathrow';td.colSpan=at.cells.length;td.appendChild(box);tr.appendChild(td);
  at.parentNode.insertBefore(tr,at.nextSibling);
 }else{at.parentNode.insertBefore(box,at.nextSibling);}
 if(old)old.parentNode.removeChild(old);
}
Array.prototype.forEach.call(document.querySelectorAll('table.hl-sort'),function(t){
 var ths=t.tHead.rows[0].cells;
 Array.prototype.forEach.call(ths,function(th,col){
  th.addEventListener('click',function(){
   var desc=!th.classList.contains('hl-desc');
   Array.prototype.forEach.call(ths,function(h){h.classList.remove('hl-asc','hl-desc');});
   th.classList.add(desc?'hl-desc':'hl-asc');
   unplace();
   var num=th.classList.contains('n'),b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
   rows.sort(function(x,y){
    var a=x.cells[col],c=y.cells[col],r;
    if(num){r=Number(a.getAttribute('data-v'))-Number(c.getAttribute('data-v'));}
    else{var u=a.textContent,w=c.textContent;r=u<w?-1:(u>w?1:0);}
    return desc?-r:r;});
   rows.forEach(function(r){b.appendChild(r);});
  });
 });
 Array.prototype.forEach.call(t.tBodies[0].rows,function(tr){
  tr.addEventListener('click',function(){
   Array.prototype.forEach.call(document.querySelectorAll('tr.hl-picked'),function(o){o.classList.remove('hl-picked');});
   tr.classList.add('hl-picked');
   showPath(tr.getAttribute('data-id'),tr.getAttribute('data-what'),tr);
  });
 });
});
var N=D.tree.nodes;
function label(k){
 var x=N[k],s=x[1]+'  '+x[0]+'  retains '+hs(x[3])+' (own '+hs(x[2])+')';
 if(x[4]!==null&&x[4]!=='')s+='  '+x[4];
 return s;
}
function build(ul,k){
 var x=N[k];
 x[5].forEach(function(c){ul.appendChild(item(c));});
 if(x[6]>0){var li=document.createElement('li');li.className='hl-rest';
  li.textContent=fmt(x[6])+' smaller object'+(x[6]==1?'':'s')+', '+hs(x[7])+(x[8]?' ('+x[8]+')':'');
  ul.appendChild(li);}
}
function item(k){
 var x=N[k],li=document.createElement('li'),sp=document.createElement('span'),tg=document.createElement('span');
 li.setAttribute('data-id',x[0]);
 tg.className='hl-tog';var kids=x[5].length+(x[6]>0?1:0);tg.textContent=kids?'+':' ';
 sp.className='hl-node';sp.setAttribute('data-id',x[0]);sp.appendChild(tg);
 sp.appendChild(document.createTextNode(label(k)));li.appendChild(sp);
 sp.addEventListener('click',function(){
  if(D.paths[x[0]]!==undefined)showPath(x[0],x[1],sp);
  if(!kids)return;
  var ul=li.querySelector('ul');
  if(!ul){ul=document.createElement('ul');ul.className='hl-tree';build(ul,k);li.appendChild(ul);tg.textContent='-';}
  else{var open=ul.style.display!=='none';ul.style.display=open?'none':'';tg.textContent=open?'+':'-';}
 });
 return li;
}
build(document.getElementById('hl-tree'),0);
})();
</script>"""


def _script_json(obj: Any) -> str:
    # No "<" at all inside the <script> element (a dumped str could hold
    # "</script>" or "<!--"): JSON's \u003c reads back as the same text.
    return json.dumps(obj, separators=(",", ":")).replace("<", "\\u003c")


def _sortable(headers: Sequence[str], numeric: Sequence[bool], rows: Sequence[Mapping[str, Any]],
              cells: Sequence[str], cls: str, what: str) -> str:
    out = ['<table class="hl-sort %s"><thead><tr>' % cls]
    for h, num in zip(headers, numeric):
        out.append('<th class="n">%s</th>' % html.escape(h) if num
                   else "<th>%s</th>" % html.escape(h))
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append('<tr data-id="%s" data-what="%s">' % (html.escape(r["id"]),
                                                         html.escape(r.get("what", what))))
        for key in cells:
            v = r[key]
            if key in ("size", "retained"):
                out.append('<td class="n" data-v="%d">%s</td>' % (v, human_size(v)))
            elif key == "count":
                out.append('<td class="n" data-v="%d">%s</td>' % (v, "{:,}".format(v)))
            elif key == "text":
                out.append('<td class="t">%s</td>' % html.escape(v or ""))
            else:
                out.append("<td>%s</td>" % html.escape(str(v)))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_dump_html(data: Mapping[str, Any]) -> str:
    """The page for ``data``, a dict of plain values:

    - ``title``, ``summary`` (str), ``rule`` (the tree's embedding rule, in words);
    - ``retainers``: rows of dicts ``id`` (hex str), ``type``, ``size``,
      ``retained``, ``text`` (str or None);
    - ``types``: rows of dicts ``type``, ``count``, ``size``, ``retained``,
      ``id`` (the type's largest retainer, whose path the row shows);
      ``types_rest``: None or a line about the types left out;
    - ``paths``: id -> the text of its shortest path to a root;
    - ``tree``: ``{"nodes": [...]}``, node 0 the virtual root; a node is
      ``[id, type, size, retained, text, [child node indices, largest
      retained first], hidden children, their bytes, their types (str)]``.
    """
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            "<title>%s</title>" % html.escape(data["title"]), _STYLE, "</head><body>",
            "<h1>%s</h1>" % html.escape(data["title"]),
            '<p class="hl-dim">%s</p>' % html.escape(data["summary"]),
            '<div id="hl-home"><div id="hl-path">Click a row (or a tree node) to see its '
            "shortest path to a root (shown under it).</div></div>"]
    body = ["<h2>Top retainers</h2>",
            '<p class="hl-note">The objects that retain most: <i>retained</i> is what would '
            "be freed if the object went (its own size and everything only it keeps "
            "reachable). Click a header to sort, a row for its path to a root.</p>",
            _sortable(("id", "type", "size", "retained", "text"),
                      (False, False, True, True, False), data["retainers"],
                      ("id", "type", "size", "retained", "text"), "hl-retainers", "object"),
            "<h2>By type</h2>",
            '<p class="hl-note">Per type: objects, their own bytes, and the bytes they retain '
            "together. A row's path is that of the type's largest retainer.</p>",
            _sortable(("type", "objects", "size", "retained"), (False, True, True, True),
                      data["types"], ("type", "count", "size", "retained"), "hl-types",
                      "largest")]
    if data.get("types_rest"):
        body.append('<p class="hl-rest">%s</p>' % html.escape(data["types_rest"]))
    body += ["<h2>Dominator tree</h2>",
             '<p class="hl-note">Each object is under its immediate dominator (the last object '
             "every path from a root to it passes through); top-level entries are dominated "
             "by no single object. Children are the objects a node immediately dominates, "
             "largest retained first. Click a node to expand it. %s</p>"
             % html.escape(data["rule"]),
             '<ul class="hl-tree" id="hl-tree"></ul>',
             '<script type="application/json" id="hl-data">%s</script>'
             % _script_json({"paths": data["paths"], "tree": data["tree"]}),
             _SCRIPT, "</body></html>"]
    return "\n".join(head + body) + "\n"

