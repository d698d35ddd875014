from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import clean_text

WEIBO_HTML = (
    '回复@小明:<span class="url-icon"><img alt=[泪] src="https://h5.sinaimg.cn/m/emoticon/icon/default/d_lei.png" '
    'style="width:1em; height:1em;" /></span>分手了&amp;好难过<br />真的 '
    "<a href='https://m.weibo.cn/search?containerid=231522'>#失恋#</a> "
    '<a data-url="http://t.cn/A6" href="https://video.weibo.com/x"><span class="surl-text">网页链接</span></a> '
    "http://t.cn/A6abc 我们 <a href='/n/阿花'>@阿花</a>"
)


def test_weibo_comment_html() -> None:
    assert clean_text(WEIBO_HTML) == "[泪]分手了&好难过 真的 #失恋# 我们 @阿花"


def test_emoji_alt_quoted_and_unquoted() -> None:
    assert clean_text('<img alt="[心碎]" src=x>') == "[心碎]"
    assert clean_text("<img src=x alt='[哭]'>再见") == "[哭]再见"
    assert clean_text("<img alt=[允悲] >") == "[允悲]"


def test_entities_whitespace_and_invisible() -> None:
    assert clean_text("  a&nbsp;&nbsp;b\u200b\n\tc  ") == "a b c"
    assert clean_text("&quot;你&quot; &#x4F60;") == '"你" 你'


def test_bidi_controls_are_stripped() -> None:
    """Isolates (U+2066–U+2069) like overrides (U+202A–U+202E): text that shows in another
    order than it is stored must not reach the model or a reviewer."""
    for control in "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e":
        assert clean_text(f"我们\u2068分{control}手\u2069了") == "我们分手了", hex(ord(control))
    assert clean_text("\u2067<img alt=[\u2066泪\u2069] src=x>\u2069") == "[泪]"


def test_plain_text_untouched() -> None:
    assert clean_text("我们分手了，再也回不去了[泪]") == "我们分手了，再也回不去了[泪]"


html_like = st.text(
    alphabet=st.sampled_from(
        list("<>/=\"' &;#ax分手泪[]@:：回复imgaltspan\n\t\u200b\u202e\u2066\u2069http.w")
    )
    | st.characters(),
    max_size=200,
)


@settings(max_examples=500, deadline=None)
@given(html_like)
def test_never_raises_and_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert isinstance(once, str)
    assert clean_text(once) == once
    assert "<img" not in once.lower()
