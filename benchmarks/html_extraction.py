"""HTML main-content extraction: searchkit's hand-written extractor against trafilatura.

For each page family (a directory of ``*.html`` pages, searched recursively) and each
extractor it reports:

- chrome left: the share of pages whose extracted text still holds a navigation string
  (上一页, 下一页, Download the ebook, Previous topic, Show Source, ...) that the page's
  reference body does not hold;
- body lost: the share of reference body paragraphs missing from the extracted text
  (compared with all white space removed). The reference body is the text of the
  paragraphs a generator marks as content: DocBook ``div.para``, the ``p`` elements under
  ``role=main`` (Sphinx), ``#mw-content-text`` (MediaWiki), ``<article>`` or ``<main>``;
- speed: pages per second (extraction only; files are read beforehand).

lxml is needed for the reference body (it comes with trafilatura); trafilatura is
optional: without it only the hand-written extractor is measured.

    python benchmarks/html_extraction.py handbook-zh-CN=/path/html/zh-CN sphinx=/path/html
    python benchmarks/html_extraction.py --generate /tmp/wiki-news   # writes two small
        # families (MediaWiki-like and news-like pages with made-up prose) and measures them

Never commit the measured pages.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from searchkit.loaders import html_to_text  # noqa: E402

CHROME = (
    "上一页", "下一页", "上一頁", "下一頁", "上一级", "上一層", "起始页", "起始頁",
    "Download the ebook", "Previous topic", "Next topic", "Report a Bug", "Show Source",
    "Quick search", "Please donate", "Created using", "跳转到导航", "本页面最后编辑于",
    "隐私政策", "免责声明", "查看历史", "分享到", "相关阅读", "首页 >", "返回顶部",
    "Table of Contents", "目录",
)
REFERENCE_XPATH = (
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' para ')]"
    " | //*[@role='main']//p | //*[@id='mw-content-text']//p | //article//p | //main//p"
)
_SPACE_RE = re.compile(r"\s+")
_UTF8 = lxml.html.HTMLParser(encoding="utf-8")


def squeeze(text: str) -> str:
    """Text with all white space removed: extractors reflow lines differently."""
    return _SPACE_RE.sub("", text)


def reference_paragraphs(html: str) -> list[str]:
    """The squeezed body paragraphs a page's generator marked as content."""
    try:
        tree = lxml.html.fromstring(html.encode("utf-8"), parser=_UTF8)
    except (ValueError, lxml.etree.ParserError):
        return []
    seen: dict[str, None] = {}
    for element in tree.xpath(REFERENCE_XPATH):
        text = squeeze(element.text_content())
        if len(text) >= 10:
            seen.setdefault(text, None)
    return list(seen)


def handwritten(html: str) -> str:
    return html_to_text(html)[0]


def extractors() -> dict[str, Callable[[str], str]]:
    found: dict[str, Callable[[str], str]] = {"searchkit": handwritten}
    try:
        import trafilatura
    except ImportError:
        print("trafilatura not installed: measuring searchkit only", file=sys.stderr)
        return found
    found["trafilatura"] = lambda html: trafilatura.extract(
        html, include_tables=True, include_comments=False) or ""
    found["trafilatura-recall"] = lambda html: trafilatura.extract(
        html, include_tables=True, include_comments=False, favor_recall=True) or ""
    return found


def read_family(directory: Path) -> list[tuple[str, list[str], str]]:
    """(html, reference paragraphs, squeezed reference text) of each page."""
    pages = []
    for path in sorted(directory.rglob("*.htm*")):
        html = path.read_bytes().decode("utf-8", errors="replace")
        paragraphs = reference_paragraphs(html)
        pages.append((html, paragraphs, "".join(paragraphs)))
    return pages


def measure(pages, extract: Callable[[str], str], repeat: int = 1) -> dict[str, float]:
    """Quality of one extractor on one family, and its best speed of ``repeat`` runs."""
    seconds = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        outputs = [extract(html) for html, _, _ in pages]
        seconds = min(seconds, time.perf_counter() - started)
    chrome_pages = lost = total = 0
    strings: dict[str, int] = {}
    for output, (_, paragraphs, reference) in zip(outputs, pages):
        left = [s for s in CHROME if s in output and squeeze(s) not in reference]
        chrome_pages += bool(left)
        for s in left:
            strings[s] = strings.get(s, 0) + 1
        squeezed = squeeze(output)
        total += len(paragraphs)
        lost += sum(paragraph not in squeezed for paragraph in paragraphs)
    return {
        "chrome": chrome_pages / len(pages), "lost": lost / total if total else 0.0,
        "paragraphs": total, "pages_s": len(pages) / seconds, "strings": strings,
    }


def generate(directory: Path) -> list[tuple[str, Path]]:
    """Writes a MediaWiki-like and a news-like family of pages; returns their (name, dir)."""
    sentences = [
        "本地图书馆在周末延长开放时间，读者可以在晚上九点前借还图书。",
        "这座城市的公共交通系统去年新增了三条线路，覆盖了东部的新住宅区。",
        "研究人员记录了湿地中候鸟的数量变化，发现春季迁徙比往年提前了一周。",
        "社区花园由居民轮流照看，收获的蔬菜分给附近的老人。",
        "老街区的改造保留了原有的石板路和木结构门面。",
        "学校开设了编程兴趣班，学生们用积木机器人完成了第一次比赛。",
    ]
    families = []
    for kind in ("mediawiki", "news"):
        out = directory / kind
        out.mkdir(parents=True, exist_ok=True)
        for n in range(40):
            paragraphs = "".join(
                f"<p>{sentences[(n + k) % len(sentences)]}{sentences[(n * 7 + k) % len(sentences)]}</p>"
                for k in range(3 + n % 4))
            page = _WIKI if kind == "mediawiki" else _NEWS
            (out / f"page{n:02d}.html").write_text(
                page.format(n=n, body=paragraphs), encoding="utf-8")
        families.append((kind, out))
    return families


_WIKI = """<!DOCTYPE html><html lang="zh"><head><title>条目{n} - 社区百科</title></head><body>
<a class="mw-jump-link" href="#content">跳转到导航</a>
<div id="mw-page-base"></div><div id="content" class="mw-body" role="main">
<h1 id="firstHeading">条目{n}</h1><div id="siteSub">来自社区百科</div>
<div id="mw-content-text"><div class="mw-parser-output">
<div id="toc" class="toc" role="navigation"><div class="toctitle"><h2>目录</h2></div>
<ul><li><a href="#a">1 概况</a></li><li><a href="#b">2 历史</a></li></ul></div>
<h2><span class="mw-headline" id="a">概况</span><span class="mw-editsection">[编辑]</span></h2>
{body}</div></div>
<div id="catlinks" class="catlinks"><a href="/c">分类</a>：<a href="/c1">城市生活</a></div></div>
<div id="mw-navigation"><h2>导航菜单</h2><div id="mw-head"><ul><li><a href="/h">查看历史</a></li></ul></div>
<div id="mw-panel"><ul><li><a href="/">首页</a></li><li><a href="/r">随机条目</a></li></ul></div></div>
<div id="footer" role="contentinfo"><ul id="footer-info"><li>本页面最后编辑于2020年1月{n}日。</li></ul>
<ul id="footer-places"><li><a href="/p">隐私政策</a></li><li><a href="/d">免责声明</a></li></ul></div>
</body></html>"""

_NEWS = """<!DOCTYPE html><html lang="zh"><head><title>新闻{n}：城市简讯</title></head><body>
<div class="site-header"><div class="logo">城市晚报</div><ul class="menu"><li><a href="/">首页</a></li>
<li><a href="/l">本地</a></li><li><a href="/s">体育</a></li></ul></div>
<div class="breadcrumb"><a href="/">首页 ></a> <a href="/l">本地</a></div>
<div class="article-main"><h1>城市简讯第{n}期</h1><div class="meta">2021-03-05 记者 王明</div>
<article>{body}</article>
<div class="share">分享到：<a href="#">微博</a> <a href="#">微信</a></div></div>
<div class="related-news"><h3>相关阅读</h3><ul><li><a href="/1">公园新增步道</a></li>
<li><a href="/2">地铁延长运营</a></li></ul></div>
<div class="copyright">版权所有 城市晚报 <a href="#top">返回顶部</a></div>
</body></html>"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("families", nargs="*", help="NAME=DIR or DIR of HTML pages")
    parser.add_argument("--generate", type=Path, help="write and measure generated families here")
    parser.add_argument("--only", help="measure only this extractor (searchkit, trafilatura, ...)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each extractor this many times and keep the best (default 1)")
    args = parser.parse_args(argv)
    families = []
    for spec in args.families:
        name, _, directory = spec.rpartition("=")
        families.append((name or Path(directory).name, Path(directory)))
    if args.generate:
        families += generate(args.generate)
    found = extractors()
    if args.only:
        found = {args.only: found[args.only]}
    print("| family | pages | paragraphs | extractor | chrome left | body lost | pages/s |")
    print("|---|---|---|---|---|---|---|")
    for name, directory in families:
        pages = read_family(directory)
        if not pages:
            print(f"{name}: no HTML pages under {directory}", file=sys.stderr)
            continue
        for label, extract in found.items():
            r = measure(pages, extract, args.repeat)
            print(f"| {name} | {len(pages)} | {r['paragraphs']} | {label} | {r['chrome']:.0%} "
                  f"| {r['lost']:.1%} | {r['pages_s']:.0f} |")
            if r["strings"]:
                top = sorted(r["strings"].items(), key=lambda item: -item[1])[:4]
                print(f"|  |  |  |  ({label} leaves: "
                      + ", ".join(f"{s} {n}" for s, n in top) + ") | | |")


if __name__ == "__main__":
    main()
