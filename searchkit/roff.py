"""A small reader of roff manual pages (man and, loosely, mdoc macros): text and title.

Man pages are indexed as what a reader of ``man`` sees, without running
``groff`` for each file (deterministic, and no subprocess per page). The
reader knows the requests and escapes that manual pages actually use:

* comments (``.\\"``, ``\\"``), macro definitions (``.de`` ... ``..``) and
  ignored blocks (``.ig``), conditionals and other formatting requests
  (lower-case names: ``.if``, ``.ft``, ``.sp``...) are dropped;
* ``.TH`` gives the page name; ``.SH``/``.SS`` (mdoc ``.Sh``/``.Ss``) start
  a section heading; ``.PP``/``.LP``/``.P``/``.TP``/``.IP``/``.sp`` and blank
  lines start a paragraph (a blank line in the text), ``.br`` a line; lines
  between ``.nf`` and ``.fi`` (``.EX``/``.EE``) are kept as they are, spaces
  included (marked ``VERBATIM``); ``.B``/``.I``/``.SM`` print their arguments, ``.BR``/``.IR``/``.RB``...
  print them joined (alternating fonts); other macros print their arguments;
* escapes: font changes (``\\fB``, ``\\f(CW``, ``\\f[B]``) and size changes
  vanish, ``\\-``, ``\\e``, ``\\(em``, ``\\(bu``, ``\\[lq]``, ``\\[u4E2D]`` and the
  like become their characters.

The title is the text of the NAME section (``名称``, ``NAME``...), such as
``ls - 列出目录内容``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import CJK_RANGES, VERBATIM

__all__ = ["RoffPage", "looks_like_roff", "roff_to_text"]

# A file that opens (after blank lines) with a comment or a man/mdoc header.
_ROFF_START_RE = re.compile(r"\A(?:[ \t]*\n)*[.'][ \t]*(?:\\\"|TH\s|Dd\s|so\s|de\s|ig\b)")
_MAN_SUFFIX_RE = re.compile(r"\.[1-9][a-z]{0,4}$", re.I)

_NAME_HEADINGS = {"NAME", "名称", "名字", "名稱", "名 称", "名 字", "NOMBRE", "NOM"}

_SPECIAL_CHARACTERS = {
    "em": "—", "en": "–", "hy": "-", "mi": "-", "bu": "•", "aq": "'", "dq": '"',
    "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "co": "©", "rg": "®", "tm": "™",
    "de": "°", "mu": "×", "di": "÷", "+-": "±", "<=": "≤", ">=": "≥", "!=": "≠",
    "->": "→", "<-": "←", "sl": "/", "rs": "\\", "ga": "`", "ti": "~", "ha": "^",
    "ul": "_", "ru": "_", "bv": "|", "br": "|", "or": "|", "pd": "∂", "sq": "□",
    "dg": "†", "ae": "æ", "ss": "ß", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›",
    "S2": "²", "ct": "¢", "Po": "£", "Eu": "€", "at": "@", "sh": "#", "Do": "$",
}
# Strings that pod2man and friends define (\*(C+, \*(L"...) and mdoc's \*q.
_STRINGS = {"C+": "C++", 'L"': "“", 'R"': "”", "C`": "'", "C'": "'", "Tm": "™",
            "R": "®", "q": '"', "lq": "“", "rq": "”", "PI": "π", "Aq": "'"}

_ESCAPE_RE = re.compile(
    r"""\\(?:
        f(?:\[[^\]\n]*\]|\(..|.)            # font change
      | s(?:\[[^\]\n]*\]|[-+]?\(..|[-+]?\d{1,2}|'[^'\n]*')  # size change
      | [*](?P<string>\[[^\]\n]*\]|\(..|.)   # string reference
      | [(](?P<char2>..)                     # \(xx special character
      | \[(?P<charn>[^\]\n]*)\]              # \[name] special character
      | [nkgmMFYV](?:\[[^\]\n]*\]|\(..|.)    # registers, colours, fonts
      | [hvwloxbDLRSZNXCA]'[^'\n]*'          # motions and other quoted arguments
      | [zO]                                 # zero-width and output control
      | (?P<single>.)
    )""",
    re.X,
)
_SINGLE_ESCAPES = {
    "-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "_": "_",
    "'": "´", "`": "`", ".": ".", "t": "\t", "+": "+", "|": "", "^": "", "&": "",
    ",": "", "/": "", "%": "", ":": "", "c": "", "a": "", "p": "", "r": "", "d": "",
    "u": "", "{": "", "}": "", "!": "",
}

# Macros whose arguments are printed joined, fonts alternating (.BR ls (1)).
_JOINED_MACROS = {"BR", "RB", "IR", "RI", "BI", "IB", "SB"}
# Macros that break the line (their arguments, if any, start the new line).
_BREAK_MACROS = {"PP", "LP", "P", "TP", "TQ", "IP", "HP", "Pp", "Lp", "It", "Bl", "El",
                 "Bd", "Ed", "RS", "RE", "EX", "EE", "Vb", "Ve", "Sp", "UR", "UE", "MT", "ME",
                 "SY", "YS", "Dl", "D1"}
# Macros and requests that start a paragraph: a blank line before what follows.
_PARAGRAPH_MACROS = {"PP", "LP", "P", "TP", "IP", "HP", "Pp", "Lp", "sp", "Sp", "Bl", "El", "Bd",
                     "Ed", "EX", "EE", "Vb", "Ve", "nf", "fi", "SY"}
# Author macros whose arguments are not text (index entries, list widths).
_SILENT_MACROS = {"IX", "Vb", "Sp", "PD", "Bl", "Bd", "Os", "Dt", "Dd", "UC", "AT", "DT",
                  "Ek", "Bk", "Ed", "El", "Xc", "Xo", "RS", "RE", "ns"}
# mdoc's callable macro names, which appear inside other macros' arguments.
_MDOC_CALLABLE = {"Ar", "Cm", "Ic", "Pa", "Ev", "Dv", "Er", "Fa", "Fn", "Ft", "Li", "Ql",
                  "Dq", "Sq", "Qq", "Pq", "Bq", "Op", "Oo", "Oc", "Em", "Sy", "Nm", "Xr",
                  "Va", "Tn", "Ns", "No", "Sx", "Pf", "Ad", "An", "Aq", "Po", "Pc", "Ux",
                  "Bx", "At", "St", "Fx", "Ms", "Ql"}


@dataclass(frozen=True)
class RoffPage:
    """A manual page read as text: its NAME line as the title (None if it has none)."""

    title: str | None
    text: str
    include: str | None = None  # the page a ``.so`` line points at


def looks_like_roff(name: str, text: str) -> bool:
    """Whether a file is a manual page: a ``.1``-``.9`` name or roff requests at its start."""
    return bool(_MAN_SUFFIX_RE.search(name)) or bool(_ROFF_START_RE.match(text))


def roff_to_text(source: str) -> RoffPage:
    """The text a reader sees in a manual page, with its NAME line as title."""
    reader = _Reader()
    for line in source.splitlines():
        reader.feed(line)
    return reader.page()


class _Reader:
    """Reads a page line by line, collecting text lines and sections."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sections: list[tuple[str, list[str]]] = []
        self.skip_until: str | None = None  # the end of a .de/.ig block
        self.heading_next = False  # .SH without arguments: the next line is the heading
        self.include: str | None = None
        self.filling = True  # fill mode: text lines join into one output line
        self.pending: list[str] = []
        self.tag_next = False  # after .TP, the next line is a tag on its own line
        self.no_space = False  # after a heading, until text: no paragraph break (roff's .ns)

    def feed(self, line: str) -> None:
        if self.skip_until is not None:
            if line.strip() == self.skip_until:
                self.skip_until = None
            return
        if line.startswith("\\&"):
            self._text(line)
        elif line[:1] in (".", "'"):
            self._request(line[1:].strip())
        elif not line.strip():
            self._paragraph()
        else:
            self._text(line)

    def page(self) -> RoffPage:
        self._break()
        return RoffPage(title=self._title(), text="\n".join(self.lines).strip("\n"),
                        include=self.include)

    def _title(self) -> str | None:
        """The NAME section's text; else an early "name - what it does" line; else
        the first section's text."""
        named = [lines for heading, lines in self.sections if _is_name_heading(heading)]
        if named:
            return " ".join(named[0]).strip() or None
        # A page that lost its ".SH NAME" still opens with the NAME line.
        found = (_NAME_LINE_RE.search(line) for line in [line for line in self.lines if line][:6])
        early = next((match.group(1) for match in found if match), None)
        if early or not self.sections:
            return early
        return " ".join(self.sections[0][1]).strip() or None

    def _request(self, request: str) -> None:
        if request.startswith('\\"') or not request:
            return
        name, _, rest = request.partition(" ")
        if name in ("de", "de1", "am", "ig"):
            args = _arguments(_strip_comment(rest))
            self.skip_until = "." + args[1] if len(args) > 1 and name != "ig" else ".."
            if name == "ig" and args:
                self.skip_until = "." + args[0]
            return
        if name == "so":
            self.include = self.include or rest.strip()
            return
        args = [_unescape(arg) for arg in _arguments(_strip_comment(rest))]
        if name in _PARAGRAPH_MACROS:
            self._paragraph()
        if name in ("nf", "EX", "Vb"):
            self._break()
            self.filling = False
        elif name in ("fi", "EE", "Ve"):
            self._break()
            self.filling = True
        elif name in ("br", "sp", "bp", "ne"):
            self._break()
        if name in ("SH", "SS", "Sh", "Ss"):
            self._heading(" ".join(args), level=name.upper())
        elif name in ("B", "I", "SM", "SB", "R"):
            self._text_out(" ".join(args))
        elif name in _JOINED_MACROS:
            self._text_out("".join(args))
        elif name == "Nd":
            self._text_out("- " + " ".join(args))
        elif name == "OP":
            self._text_out("[" + " ".join(args) + "]")
        elif name in _BREAK_MACROS or name in _SILENT_MACROS:
            self._break()
            self.tag_next = name in ("TP", "TQ")
            if name not in _SILENT_MACROS and name not in ("TP", "TQ", "PP", "LP", "P") and args:
                self._text_out(_mdoc_words(args[:1] if name in ("IP", "HP") else args))
                if name in ("IP", "It"):
                    self._break()  # a list item's tag stands on its own line
        elif name[:1].isupper() and name not in ("TH",):
            # An author's or mdoc's macro: its arguments are text.
            self._text_out(_mdoc_words(args))
        # Anything else is a formatting request (lower-case: .if, .ft, .nr...) or .TH.

    def _heading(self, heading: str, level: str) -> None:
        self._paragraph()
        if not heading:
            self.heading_next = True
            return
        self.lines.append(heading)
        self.no_space = True
        if level == "SH":
            self.sections.append((heading, []))

    def _text(self, line: str) -> None:
        if not self.filling and not self.heading_next:
            self._verbatim(_unescape(_strip_comment(line)))
            return
        self._text_out(_unescape(_strip_comment(line)))

    def _verbatim(self, line: str) -> None:
        """A line of a no-fill block (.nf, .EX): kept as it is, spaces included."""
        self._break()
        if not line.strip():
            self._paragraph()
            return
        self.lines.append(VERBATIM + line.rstrip())
        self.no_space = False
        if self.sections:
            self.sections[-1][1].append(line.strip())

    def _paragraph(self) -> None:
        """End the line being filled and start a paragraph: one blank line."""
        self._break()
        if self.lines and self.lines[-1] and not self.no_space:
            self.lines.append("")

    def _text_out(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self.heading_next:
            self.heading_next = False
            self._heading(text, "SH")
            return
        self.pending.append(text)
        if not self.filling or self.tag_next:
            self.tag_next = False
            self._break()

    def _break(self) -> None:
        """End the output line being filled."""
        if not self.pending:
            return
        text = self.pending[0]
        for part in self.pending[1:]:
            # roff joins lines with a space; Chinese text reads without one.
            glue = "" if _CJK_EDGE_RE.match(text[-1] + part[0]) else " "
            text += glue + part
        self.pending = []
        self.lines.append(text)
        self.no_space = False
        if self.sections:
            self.sections[-1][1].append(text)


# "ls - 列出目录内容", "gzip, gunzip - 压缩", maybe after a stray "NAME 名字".
_NAME_LINE_RE = re.compile(r"(?:^|\s)(\S+(?:, \S+)* [-—] \S.*)")


def _is_name_heading(heading: str) -> bool:
    """NAME, 名称, "NAME 名字", "NAME (名称)"..."""
    return any(word.upper() in _NAME_HEADINGS for word in re.split(r"[\s()（）]+", heading))


_CJK_EDGE_RE = re.compile(f"[{CJK_RANGES}，。；：！？、）》”]{{2}}")


def _strip_comment(line: str) -> str:
    """A line without its ``\\"`` comment (an escaped backslash ``\\\\"`` is kept)."""
    index = 0
    while True:
        index = line.find("\\", index)
        if index < 0 or index + 1 >= len(line):
            return line
        if line[index + 1] == '"':
            return line[:index]
        index += 2


def _arguments(rest: str) -> list[str]:
    """A request's arguments: space-separated, double quotes group ("" is a quote)."""
    args: list[str] = []
    index, length = 0, len(rest)
    while index < length:
        while index < length and rest[index] in " \t":
            index += 1
        if index >= length:
            break
        if rest[index] == '"':
            index += 1
            part = []
            while index < length:
                if rest.startswith('""', index):
                    part.append('"')
                    index += 2
                elif rest[index] == '"':
                    index += 1
                    break
                else:
                    part.append(rest[index])
                    index += 1
            args.append("".join(part))
        else:
            start = index
            while index < length and rest[index] not in " \t":
                index += 2 if rest[index] == "\\" else 1
            args.append(rest[start:index])
    return args


def _mdoc_words(args: list[str]) -> str:
    """Arguments with mdoc's callable macro names dropped and ``Fl`` as a dash."""
    words: list[str] = []
    flag = False
    for arg in args:
        if arg == "Fl":
            flag = True
            continue
        if arg in _MDOC_CALLABLE:
            continue
        words.append(("-" + arg) if flag else arg)
        flag = False
    if flag:
        words.append("-")
    return " ".join(words)


def _unescape(text: str) -> str:
    """Text with roff escapes replaced by what they print."""
    if "\\" not in text:
        return text
    return _ESCAPE_RE.sub(_escape_value, text)


def _escape_value(match: re.Match[str]) -> str:
    if match["string"] is not None:
        return _STRINGS.get(_bracketed(match["string"]), "")
    name = match["char2"] if match["char2"] is not None else match["charn"]
    if name is not None:
        return _special_character(name)
    single = match["single"]
    if single is not None:
        return _SINGLE_ESCAPES.get(single, single)
    return ""


def _bracketed(name: str) -> str:
    """An escape's name without its ``(`` or ``[...]`` wrapping."""
    if name.startswith("["):
        return name[1:-1]
    return name[1:] if name.startswith("(") else name


def _special_character(name: str) -> str:
    if name in _SPECIAL_CHARACTERS:
        return _SPECIAL_CHARACTERS[name]
    unicode = re.fullmatch(r"u([0-9A-Fa-f]{4,6})", name)
    if unicode:
        try:
            return chr(int(unicode.group(1), 16))
        except ValueError:
            return ""
    return ""
