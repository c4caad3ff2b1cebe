"""HTML pages of generators the loader was not written for: body kept, chrome dropped;
meta keywords and description searchable but never shown."""

from __future__ import annotations

import pytest

from searchkit import SearchIndex
from searchkit.loaders import html_to_text, load_file

# Each page is small and hand-written; the prose is made up for these tests.
DOCBOOK_PAGE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x"><html><head>
<title>第 3 章 花园的灌溉</title>
<meta name="keywords" content="滴灌, 蓄水桶" />
<meta name="description" content="本章讲述小型花园怎样节约用水" />
</head><body><div id="banner"><a href="http://example.org/get/"><span class="text">Download the ebook</span></a></div>
<p id="title"><a class="left" href="x"><img alt="Product Site" src="a.png" /></a></p>
<ul class="docnav top"><li class="previous"><a href="b.html"><strong>上一页</strong></a></li>
<li class="home">园艺手册</li><li class="next"><a href="c.html"><strong>下一页</strong></a></li></ul>
<div class="chapter"><div class="titlepage"><h1 class="title">第 3 章 花园的灌溉</h1></div>
<div class="toc"><dl class="toc"><dt><a href="c.html">3.1. 浇水的时间</a></dt></dl></div>
<div class="para">清晨浇水能让土壤在白天保持湿润，叶片也不容易生病。</div>
<div class="sidebar"><div class="para">回到基础：黏土比沙土保水更久。</div></div>
</div><ul class="docnav"><li class="previous"><a href="b.html"><strong>上一页</strong>2.5. 选种</a></li>
<li class="home"><a href="index.html"><strong>起始页</strong></a></li></ul></body></html>
"""

SPHINX_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8" />
<title>配置文件格式 &#8212; 示例工具 1.0 文档</title></head><body>
<div class="related" role="navigation" aria-label="related navigation"><h3>导航</h3>
<ul><li class="right"><a href="genindex.html">索引</a></li><li><a href="prev.html">上一个主题</a></li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main"><section id="config"><h1>配置文件格式<a class="headerlink" href="#config">¶</a></h1>
<p>配置文件由若干小节组成，每个小节以方括号中的名称开头。</p>
<p>未知的键会被忽略并给出一条警告。</p></section></div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><div class="sphinxsidebarwrapper">
<h3>本页</h3><ul class="this-page-menu"><li><a href="_sources/config.txt">显示源代码</a></li></ul>
<div id="searchbox" role="search"><form class="search" action="search.html"><input type="text" name="q" /></form></div>
</div></div></div>
<div class="footer">&#169; 版权所有 2020 示例作者。 由 Sphinx 创建。</div></body></html>
"""

MEDIAWIKI_PAGE = """<!DOCTYPE html><html lang="zh"><head><title>石板桥 - 社区百科</title></head><body>
<a class="mw-jump-link" href="#mw-head">跳转到导航</a>
<div id="content" class="mw-body" role="main"><h1 id="firstHeading">石板桥</h1>
<div id="mw-content-text"><div class="mw-parser-output">
<div id="toc" class="toc" role="navigation"><div class="toctitle"><h2>目录</h2></div>
<ul><li><a href="#history">1 历史</a></li></ul></div>
<h2><span class="mw-headline" id="history">历史</span><span class="mw-editsection">[<a href="?edit">编辑</a>]</span></h2>
<p>石板桥建于河流最窄的地方，桥面由十二块青石铺成。</p>
<p>每年秋天，村民会在桥头举办一次集市。</p></div></div>
<div id="catlinks" class="catlinks"><a href="/c">页面分类</a>：<a href="/c/q">古桥</a></div></div>
<div id="mw-navigation"><h2>导航菜单</h2><div id="mw-panel"><ul><li><a href="/">首页</a></li>
<li><a href="/r">随机页面</a></li></ul></div></div>
<div id="footer" role="contentinfo"><ul><li>本页面最后编辑于2020年5月3日。</li><li><a href="/p">隐私政策</a></li></ul></div>
</body></html>
"""

PAGES = [
    ("docbook", DOCBOOK_PAGE,
     ["清晨浇水能让土壤在白天保持湿润", "回到基础：黏土比沙土保水更久。", "第 3 章 花园的灌溉"],
     ["Download the ebook", "上一页", "下一页", "起始页", "浇水的时间", "园艺手册"]),
    ("sphinx", SPHINX_PAGE,
     ["配置文件由若干小节组成", "未知的键会被忽略并给出一条警告。", "配置文件格式"],
     ["导航", "索引", "上一个主题", "显示源代码", "版权所有", "¶"]),
    ("mediawiki", MEDIAWIKI_PAGE,
     ["石板桥建于河流最窄的地方", "每年秋天，村民会在桥头举办一次集市。", "历史"],
     ["跳转到导航", "目录", "编辑", "页面分类", "导航菜单", "随机页面", "本页面最后编辑于", "隐私政策"]),
]


@pytest.mark.parametrize(("kind", "html", "body", "chrome"), PAGES, ids=[p[0] for p in PAGES])
def test_body_kept_and_chrome_dropped(kind, html, body, chrome):
    text, _, _ = html_to_text(html)
    for passage in body:
        assert passage in text
    for string in chrome:
        assert string not in text


def test_page_of_nothing_but_chrome_keeps_its_text():
    text, _, _ = html_to_text('<html><body><div class="toc"><a href="a.html">第一章 总则</a></div></body></html>')
    assert "第一章 总则" in text


def test_chrome_class_on_an_element_without_end_tag_loses_nothing_after_it():
    text, _, _ = html_to_text('<ul><li class="nav">菜单<li>条目</ul><p class="footer">页脚<p>正文段落')
    assert "正文段落" in text and "条目" in text


def test_keywords_and_description_are_not_body_text(tmp_path):
    path = tmp_path / "irrigation.html"
    path.write_text(DOCBOOK_PAGE, encoding="utf-8")
    [doc] = load_file(path)
    assert "蓄水桶" not in doc.text and "节约用水" not in doc.text
    assert doc.metadata["keywords"] == "滴灌, 蓄水桶"


@pytest.fixture(scope="module")
def page_index(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("pages")
    for kind, html, _, _ in PAGES:
        (corpus / f"{kind}.html").write_text(html, encoding="utf-8")
    # The Traditional-script page's keywords are found by a Simplified query, and back.
    (corpus / "tw.html").write_text(
        '<html><head><title>舊城導覽</title><meta name="keywords" content="騎樓"></head>'
        "<body><p>沿著河岸走到老碼頭。</p></body></html>", encoding="utf-8")
    path = tmp_path_factory.mktemp("page-index")
    SearchIndex.build(path, [corpus])
    with SearchIndex.open(path) as index:
        yield index


@pytest.mark.parametrize("query", ["蓄水桶", "节约用水", '"节约用水"', "骑楼", "騎樓"])
def test_keywords_and_description_are_searchable(page_index, query):
    hits = page_index.search(query).hits
    assert len(hits) == 1
    assert not any(word in hits[0].snippet for word in ("蓄水桶", "节约用水", "骑楼", "騎樓"))


def test_chrome_words_find_nothing(page_index):
    for query in ["上一页", "隐私政策", "显示源代码", '"Download the ebook"']:
        assert page_index.search(query).total == 0, query
