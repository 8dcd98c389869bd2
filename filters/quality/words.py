"""English words as spaCy's blank English tokenizer splits them (datatrove's `split_into_words(text, "en")`).

`words(text)` runs spaCy 3.8's tokenizer algorithm with polars regexes over the distinct whitespace-free
chunks of a batch (whitespace as Python's `str.isspace`): spaCy's loop (strip one prefix and one suffix
per round, stop when the rest is a special case), special cases (contractions such as `don't` -> `do n't`,
abbreviations such as `Inc.`), the URL matcher, the infix rules (hyphens between letters, `...`, commas
between letters, ...) and the special-case matcher (`Kan .` -> `Kan.`). Character classes, affixes and
special cases are spaCy's English ones. Whitespace tokens are dropped, as datatrove's `strip_strings` does.
On Reuters-21578 and a C4 sample every document splits exactly as spaCy splits it.

Known differences from spaCy (none met in those corpora): the private-network exclusions of spaCy's URL
pattern, and six letters whose case spaCy classifies by hand (`ǅ`, `ǈ`, `ǋ`, `ǲ`, `ƻ`, `ʔ`).
"""

from __future__ import annotations

import functools

import polars as pl

#: Python's `str.isspace` (Rust's `\s` lacks the information separators U+001C..U+001F)
_CHUNK = r"[^\s\x1c-\x1f]+"
_SEP = " "
#: rounds of prefix/suffix stripping before the rest is taken as it is (spaCy loops until nothing changes)
_MAX_ROUNDS = 64


def _items(spaced: str) -> list[str]:
    return spaced.split()


# spaCy's char_classes.ALPHA (Latin, Greek, Cyrillic and the uncased scripts), as code point ranges
_ALPHA = (
    r"A-Za-z\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BF}\u{1C4}-\u{2AF}\u{386}\u{388}-\u{38A}\u{38C}"
    r"\u{38E}-\u{38F}\u{391}-\u{3A9}\u{3AC}-\u{3AF}\u{3B1}-\u{3C9}\u{3CC}-\u{3CE}\u{400}-\u{401}"
    r"\u{403}-\u{40A}\u{40C}-\u{40D}\u{410}-\u{451}\u{453}-\u{45A}\u{45C}-\u{45D}\u{490}-\u{491}"
    r"\u{496}-\u{497}\u{4A2}-\u{4A3}\u{4AE}-\u{4AF}\u{4BA}-\u{4BB}\u{4D8}-\u{4D9}\u{4E8}-\u{4E9}"
    r"\u{591}-\u{5F4}\u{620}-\u{64A}\u{66E}-\u{6D5}\u{6E5}-\u{6FF}\u{750}-\u{77F}\u{8A0}-\u{8BD}"
    r"\u{900}-\u{9FF}\u{B80}-\u{CFF}\u{D80}-\u{DFF}\u{1100}-\u{137F}\u{1D00}-\u{1D25}\u{1D6B}-\u{1D77}"
    r"\u{1D79}-\u{1D9A}\u{1E00}-\u{1EFF}\u{2C60}-\u{2C7B}\u{2C7E}-\u{2C7F}\u{2E80}-\u{2FDF}\u{2FF0}-"
    r"\u{30FF}\u{31C0}-\u{31EF}\u{3200}-\u{4DBF}\u{4E00}-\u{9FFF}\u{A722}-\u{A76F}\u{A771}-\u{A787}"
    r"\u{A78B}-\u{A78E}\u{A790}-\u{A7B9}\u{A7FA}\u{AB30}-\u{AB5A}\u{AB60}-\u{AB64}\u{AC00}-\u{D7AF}"
    r"\u{F900}-\u{FAFF}\u{FB1D}-\u{FBB1}\u{FBD3}-\u{FD3D}\u{FD50}-\u{FDC7}\u{FDF0}-\u{FDFB}\u{FE30}-"
    r"\u{FE4F}\u{FE70}-\u{FEFC}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{1EE00}-\u{1EEBB}\u{1F200}-"
    r"\u{1F2FF}\u{20000}-\u{2A6DF}\u{2A700}-\u{2EBEF}\u{2F800}-\u{2FA1F}"
)
#: spaCy's ALPHA_LOWER / ALPHA_UPPER: the letters of ALPHA that are not upper (resp. lower) case
_LOWER = rf"[{_ALPHA}--\p{{Uppercase}}]"
_UPPER = rf"[{_ALPHA}--\p{{Lowercase}}]"
# spaCy's char_classes._other_symbols (dingbats, emoji, ...)
_ICONS = (
    r"\u00A6\u00A9\u00AE\u00B0\u0482\u058D\u058E\u060E\u060F\u06DE\u06E9\u06FD\u06FE\u07F6\u09FA\u0B70"
    r"\u0BF3-\u0BF8\u0BFA\u0C7F\u0D4F\u0D79\u0F01-\u0F03\u0F13\u0F15-\u0F17\u0F1A-\u0F1F\u0F34\u0F36"
    r"\u0F38\u0FBE-\u0FC5\u0FC7-\u0FCC\u0FCE\u0FCF\u0FD5-\u0FD8\u109E\u109F\u1390-\u1399\u1940\u19DE-"
    r"\u19FF\u1B61-\u1B6A\u1B74-\u1B7C\u2100\u2101\u2103-\u2106\u2108\u2109\u2114\u2116\u2117\u211E-"
    r"\u2123\u2125\u2127\u2129\u212E\u213A\u213B\u214A\u214C\u214D\u214F\u218A\u218B\u2195-\u2199"
    r"\u219C-\u219F\u21A1\u21A2\u21A4\u21A5\u21A7-\u21AD\u21AF-\u21CD\u21D0\u21D1\u21D3\u21D5-\u21F3"
    r"\u2300-\u2307\u230C-\u231F\u2322-\u2328\u232B-\u237B\u237D-\u239A\u23B4-\u23DB\u23E2-\u2426"
    r"\u2440-\u244A\u249C-\u24E9\u2500-\u25B6\u25B8-\u25C0\u25C2-\u25F7\u2600-\u266E\u2670-\u2767"
    r"\u2794-\u27BF\u2800-\u28FF\u2B00-\u2B2F\u2B45\u2B46\u2B4D-\u2B73\u2B76-\u2B95\u2B98-\u2BC8"
    r"\u2BCA-\u2BFE\u2CE5-\u2CEA\u2E80-\u2E99\u2E9B-\u2EF3\u2F00-\u2FD5\u2FF0-\u2FFB\u3004\u3012\u3013"
    r"\u3020\u3036\u3037\u303E\u303F\u3190\u3191\u3196-\u319F\u31C0-\u31E3\u3200-\u321E\u322A-\u3247"
    r"\u3250\u3260-\u327F\u328A-\u32B0\u32C0-\u32FE\u3300-\u33FF\u4DC0-\u4DFF\uA490-\uA4C6\uA828-"
    r"\uA82B\uA836\uA837\uA839\uAA77-\uAA79\uFDFD\uFFE4\uFFE8\uFFED\uFFEE\uFFFC\uFFFD\U00010137-"
    r"\U0001013F\U00010179-\U00010189\U0001018C-\U0001018E\U00010190-\U0001019B\U000101A0\U000101D0-"
    r"\U000101FC\U00010877\U00010878\U00010AC8\U0001173F\U00016B3C-\U00016B3F\U00016B45\U0001BC9C"
    r"\U0001D000-\U0001D0F5\U0001D100-\U0001D126\U0001D129-\U0001D164\U0001D16A-\U0001D16C\U0001D183"
    r"\U0001D184\U0001D18C-\U0001D1A9\U0001D1AE-\U0001D1E8\U0001D200-\U0001D241\U0001D245\U0001D300-"
    r"\U0001D356\U0001D800-\U0001D9FF\U0001DA37-\U0001DA3A\U0001DA6D-\U0001DA74\U0001DA76-\U0001DA83"
    r"\U0001DA85\U0001DA86\U0001ECAC\U0001F000-\U0001F02B\U0001F030-\U0001F093\U0001F0A0-\U0001F0AE"
    r"\U0001F0B1-\U0001F0BF\U0001F0C1-\U0001F0CF\U0001F0D1-\U0001F0F5\U0001F110-\U0001F16B\U0001F170-"
    r"\U0001F1AC\U0001F1E6-\U0001F202\U0001F210-\U0001F23B\U0001F240-\U0001F248\U0001F250\U0001F251"
    r"\U0001F260-\U0001F265\U0001F300-\U0001F3FA\U0001F400-\U0001F6D4\U0001F6E0-\U0001F6EC\U0001F6F0-"
    r"\U0001F6F9\U0001F700-\U0001F773\U0001F780-\U0001F7D8\U0001F800-\U0001F80B\U0001F810-\U0001F847"
    r"\U0001F850-\U0001F859\U0001F860-\U0001F887\U0001F890-\U0001F8AD\U0001F900-\U0001F90B\U0001F910-"
    r"\U0001F93E\U0001F940-\U0001F970\U0001F973-\U0001F976\U0001F97A\U0001F97C-\U0001F9A2\U0001F9B0-"
    r"\U0001F9B9\U0001F9C0-\U0001F9C2\U0001F9D0-\U0001F9FF\U0001FA60-\U0001FA6D"
)
_PUNCT = _items("… …… , : ; ! ? ¿ ؟ ¡ ( ) [ ] { } < > _ # * & 。 ？ ！ ， 、 ； ： ～ · । ، ۔ ؛ ٪")
_QUOTES = _items("' \" ” “ ` ‘ ´ ’ ‚ , „ » « 「 」 『 』 （ ） 〔 〕 【 】 《 》 〈 〉 〈 〉 ⟦ ⟧")
_HYPHENS = _items("- – — -- --- —— ~")
_CURRENCY = _items(
    "$ £ € ¥ ฿ US$ C$ A$ ₽ ﷼ ₴ ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ € ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₴ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₽ ₾ ₿"
)
_UNITS = _items(
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh "
    "mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K % км км² км³ м м² м³ дм дм² дм³ см см² см³ мм мм² мм³ "
    "нм кг г мг м/с км/ч кПа Па мбар Кб КБ кб Мб МБ мб Гб ГБ гб Тб ТБ тбكم كم² كم³ م م² م³ سم سم² سم³ مم "
    "مم² مم³ كم غرام جرام جم كغ ملغ كوب اكواب"
)


def _escape(token: str) -> str:
    """`token` as a literal in a pattern (not `<`, `>`: `\\<` is a word boundary in Rust's regex)."""
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c for c in token)


def _any(tokens: list[str]) -> str:
    return "|".join(_escape(t) for t in tokens)


def _members(chars: str) -> str:
    """`chars` escaped for use inside a character class."""
    return "".join("\\" + c if c in "\\[]^-&~" else c for c in dict.fromkeys(chars))


_QUOTE_CLASS = _members("".join(_QUOTES))
_PUNCT_CLASS = _members("".join(_PUNCT) + "|\\")

#: spaCy's TOKENIZER_PREFIXES, in order (`\+(?![0-9])` is checked separately: no look-ahead here)
_PREFIX = rf"^(§|%|=|—|–|\+|{_any(_PUNCT)}|\.\.+|…|{_any(_QUOTES)}|{_any(_CURRENCY)}|[{_ICONS}])"
#: spaCy's TOKENIZER_SUFFIXES as (pattern ending the text, characters of its match before the suffix): the
#: first of them that matches wins, and its left-most match gives the suffix like `re.search`; look-behinds
#: become a required character before the suffix (they never compete: the plain suffixes and the
#: look-behind ones end differently). A regex match without capture groups is several times faster.
_SUFFIXES = (
    (rf"(?:{_any(_PUNCT)}|\.\.+|…|{_any(_QUOTES)}|[{_ICONS}]|'s|'S|’s|’S|—|–)$", 0),
    (rf"[0-9](?:\+|{_any(_CURRENCY)}|{_any(_UNITS)})$", 1),
    (r"°[FfCcKk]\.$", 2),
    (rf"(?:[0-9%²\-+{_PUNCT_CLASS}(?:{_QUOTE_CLASS}]|{_LOWER})\.$", 1),
    (rf"{_UPPER}{_UPPER}\.$", 2),
)
#: spaCy's English TOKENIZER_INFIXES, in order, as (pattern, replacement) with the look-arounds captured
_INFIXES = (
    (r"(\.\.+|…)", rf"{_SEP}$1{_SEP}"),
    (rf"([{_ICONS}])", rf"{_SEP}$1{_SEP}"),
    (r"([0-9])([+\-*^])([0-9-])", rf"$1{_SEP}$2{_SEP}$3"),
    (rf"({_LOWER}|[{_QUOTE_CLASS}])(\.)({_UPPER}|[{_QUOTE_CLASS}])", rf"$1{_SEP}$2{_SEP}$3"),
    (rf"([{_ALPHA}]),([{_ALPHA}])", rf"$1{_SEP},{_SEP}$2"),
    (rf"([{_ALPHA}0-9])({_any(_HYPHENS)})([{_ALPHA}])", rf"$1{_SEP}$2{_SEP}$3"),
    (rf"([{_ALPHA}0-9])([:<>=/])([{_ALPHA}])", rf"$1{_SEP}$2{_SEP}$3"),
)
#: spaCy's URL_MATCH, without its look-ahead exclusions of private IP networks
_URL = (
    r"^(?:(?:[\w\+\-\.]{2,})://)?(?:\S+(?::\S*)?@)?(?:(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])"
    r"(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
    r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    rf"(?:{_LOWER}{{2,63}}))(?::\d{{2,5}})?(?:[/?#]\S*)?$"
)

#: spaCy's English tokenizer exceptions (special cases): `·` marks where a special case is split; the
#: variants with a typographic apostrophe (’) of every entry with `'` are special cases too
_SPECIAL_TABLE = (
    "' '' 'Cause 'Cos 'Coz 'Cuz 'S 'bout 'cause 'cos 'coz 'cuz 'd 'em 'll 'nuff 're 's (*_*) (-8 (-: (-; "
    "(-_-) (._.) (: (; (= (>_<) (^_^) (o: (¬_¬) (ಠ_ಠ) (╯°□°）╯︵┻━┻ )-: ): -_- -__- ._. 0.0 0.o 0_0 0_o "
    "10·a.m. 10·am 10·p.m. 10·pm 11·a.m. 11·am 11·p.m. 11·pm 12·a.m. 12·am 12·p.m. 12·pm 1·a.m. 1·am "
    "1·p.m. 1·pm 2·a.m. 2·am 2·p.m. 2·pm 3·a.m. 3·am 3·p.m. 3·pm 4·a.m. 4·am 4·p.m. 4·pm 5·a.m. 5·am "
    "5·p.m. 5·pm 6·a.m. 6·am 6·p.m. 6·pm 7·a.m. 7·am 7·p.m. 7·pm 8) 8-) 8-D 8D 8·a.m. 8·am 8·p.m. 8·pm "
    "9·a.m. 9·am 9·p.m. 9·pm :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( :-((( :-) :-)) "
    ":-))) :-* :-/ :-0 :-3 :-> :-D :-O :-P :-X :-] :-o :-p :-x :-| :-} :/ :0 :1 :3 :> :D :O :P :X :] :o "
    ":o) :p :x :| :} ;) ;-) ;-D ;D ;_; <.< </3 <3 <33 <333 <space> =( =) =/ =3 =D =[ =] =| >.< >.> >:( "
    ">:o ><(((*> @_@ Adm. Ai·n't Ai·nt Ak. Ala. Apr. Are·n't Are·nt Ariz. Ark. Aug. Bros. C'm·on C++ "
    "Calif. Ca·n't Ca·n't·'ve Can·not Ca·nt Ca·nt·ve Co. Colo. Conn. Corp. Could·'ve Could·n't "
    "Could·n't·'ve Could·nt Could·nt·ve Could·ve D.C. Dare·n't Dare·nt Dec. Del. Did·n't Did·n't·'ve "
    "Did·nt Did·nt·ve Does·n't Does·n't·'ve Does·nt Does·nt·ve Doin Doin' Do·n't Do·n't·'ve Do·nt "
    "Do·nt·ve Dr. E.G. E.g. Feb. Fla. Ga. Gen. Goin Goin' Gon·na Got·ta Gov. Had·n't Had·n't·'ve Had·nt "
    "Had·nt·ve Has·n't Has·nt Have·n't Have·nt Havin Havin' He·'d He·'d·'ve He·'ll He·'ll·'ve He·'s He·d "
    "He·d·ve He·ll·ve He·s How·'d How·'d·'ve How·'d·'y How·'ll How·'ll·'ve How·'re How·'s How·'ve How·d "
    "How·d·ve How·ll How·ll·ve How·re How·s How·ve I·'d I·'d·'ve I·'ll I·'ll·'ve I·'m I·'m·a I·'ve I.E. "
    "I.e. Ia. I·d Id. I·d·ve Ill. I·ll·ve I·m I·m·a Inc. Ind. Is·n't Is·nt It·'d It·'d·'ve It·'ll "
    "It·'ll·'ve It·'s It·d It·d·ve It·ll It·ll·ve I·ve Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Let·'s Lovin "
    "Lovin' Ltd. Ma'am Mar. Mass. May·n't May·n't·'ve May·nt May·nt·ve Md. Messrs. Mich. Might·'ve "
    "Might·n't Might·n't·'ve Might·nt Might·nt·ve Might·ve Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. "
    "Must·'ve Must·n't Must·n't·'ve Must·nt Must·nt·ve Must·ve N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. "
    "Need·n't Need·n't·'ve Need·nt Need·nt·ve Nev. Not·'ve Nothin Nothin' Not·ve Nov. Nuthin Nuthin' "
    "O'clock O.O O.o O_O O_o Oct. Okla. Ol Ol' Ore. Ought·n't Ought·n't·'ve Ought·nt Ought·nt·ve Pa. "
    "Ph.D. Prof. Rep. Rev. S.C. Sen. Sep. Sept. Sha·n't Sha·n't·'ve Sha·nt Sha·nt·ve She·'d She·'d·'ve "
    "She·'ll She·'ll·'ve She·'s She·d·ve She·ll·ve She·s Should·'ve Should·n't Should·n't·'ve Should·nt "
    "Should·nt·ve Should·ve Somethin Somethin' St. Tenn. That·'d That·'d·'ve That·'ll That·'ll·'ve "
    "That·'s That·d That·d·ve That·ll That·ll·ve That·s There·'d There·'d·'ve There·'ll There·'ll·'ve "
    "There·'re There·'s There·'ve There·d There·d·ve There·ll There·ll·ve There·re There·s There·ve "
    "These·'d These·'d·'ve These·'ll These·'ll·'ve These·'re These·'ve These·d These·d·ve These·ll "
    "These·ll·ve These·re These·ve They·'d They·'d·'ve They·'ll They·'ll·'ve They·'re They·'ve They·d "
    "They·d·ve They·ll They·ll·ve They·re They·ve This·'d This·'d·'ve This·'ll This·'ll·'ve This·'s "
    "This·d This·d·ve This·ll This·ll·ve This·s Those·'d Those·'d·'ve Those·'ll Those·'ll·'ve Those·'re "
    "Those·'ve Those·d Those·d·ve Those·ll Those·ll·ve Those·re Those·ve V.V V_V Va. Wash. Was·n't Was·nt "
    "We·'d We·'d·'ve We·'ll We·'ll·'ve We·'re We·'ve We·d We·d·ve We·ll·ve Were·n't Were·nt We·ve What·'d "
    "What·'d·'ve What·'ll What·'ll·'ve What·'re What·'s What·'ve What·d What·d·ve What·ll What·ll·ve "
    "What·re What·s What·ve When·'d When·'d·'ve When·'ll When·'ll·'ve When·'re When·'s When·'ve When·d "
    "When·d·ve When·ll When·ll·ve When·re When·s When·ve Where·'d Where·'d·'ve Where·'ll Where·'ll·'ve "
    "Where·'re Where·'s Where·'ve Where·d Where·d·ve Where·ll Where·ll·ve Where·re Where·s Where·ve "
    "Who·'d Who·'d·'ve Who·'ll Who·'ll·'ve Who·'re Who·'s Who·'ve Who·d Who·d·ve Who·ll Who·ll·ve Who·s "
    "Who·ve Why·'d Why·'d·'ve Why·'ll Why·'ll·'ve Why·'re Why·'s Why·'ve Why·d Why·d·ve Why·ll Why·ll·ve "
    "Why·re Why·s Why·ve Wis. Wo·n't Wo·n't·'ve Wo·nt Wo·nt·ve Would·'ve Would·n't Would·n't·'ve Would·nt "
    "Would·nt·ve Would·ve XD XDD You·'d You·'d·'ve You·'ll You·'ll·'ve You·'re You·'ve You·d You·d·ve "
    "You·ll You·ll·ve You·re You·ve [-: [: [= \\\") \\n \\t ]= ^_^ ^__^ ^___^ a. a.m. ai·n't ai·nt and/or "
    "are·n't are·nt b. c'm·on c. ca·n't ca·n't·'ve can·not ca·nt ca·nt·ve co. could·'ve could·n't "
    "could·n't·'ve could·nt could·nt·ve could·ve d. dare·n't dare·nt did·n't did·n't·'ve did·nt did·nt·ve "
    "does·n't does·n't·'ve does·nt does·nt·ve doin doin' do·n't do·n't·'ve do·nt do·nt·ve e. e.g. em f. "
    "g. goin goin' gon·na got·ta h. had·n't had·n't·'ve had·nt had·nt·ve has·n't has·nt have·n't have·nt "
    "havin havin' he·'d he·'d·'ve he·'ll he·'ll·'ve he·'s he·d he·d·ve he·ll·ve he·s how·'d how·'d·'ve "
    "how·'d·'y how·'ll how·'ll·'ve how·'re how·'s how·'ve how·d how·d·ve how·ll how·ll·ve how·re how·s "
    "how·ve i·'d i·'d·'ve i·'ll i·'ll·'ve i·'m i·'m·a i·'ve i. i.e. i·d i·d·ve i·ll·ve i·m i·m·a is·n't "
    "is·nt it·'d it·'d·'ve it·'ll it·'ll·'ve it·'s it·d it·d·ve it·ll it·ll·ve i·ve j. k. l. let·'s ll "
    "lovin lovin' m. ma'am may·n't may·n't·'ve may·nt may·nt·ve might·'ve might·n't might·n't·'ve "
    "might·nt might·nt·ve might·ve must·'ve must·n't must·n't·'ve must·nt must·nt·ve must·ve n. need·n't "
    "need·n't·'ve need·nt need·nt·ve not·'ve nothin nothin' not·ve nuff nuthin nuthin' o'clock o. o.0 o.O "
    "o.o o_0 o_O o_o ol ol' ought·n't ought·n't·'ve ought·nt ought·nt·ve p. p.m. q. r. s. sha·n't "
    "sha·n't·'ve sha·nt sha·nt·ve she·'d she·'d·'ve she·'ll she·'ll·'ve she·'s she·d·ve she·ll·ve she·s "
    "should·'ve should·n't should·n't·'ve should·nt should·nt·ve should·ve somethin somethin' t. that·'d "
    "that·'d·'ve that·'ll that·'ll·'ve that·'s that·d that·d·ve that·ll that·ll·ve that·s there·'d "
    "there·'d·'ve there·'ll there·'ll·'ve there·'re there·'s there·'ve there·d there·d·ve there·ll "
    "there·ll·ve there·re there·s there·ve these·'d these·'d·'ve these·'ll these·'ll·'ve these·'re "
    "these·'ve these·d these·d·ve these·ll these·ll·ve these·re these·ve they·'d they·'d·'ve they·'ll "
    "they·'ll·'ve they·'re they·'ve they·d they·d·ve they·ll they·ll·ve they·re they·ve this·'d "
    "this·'d·'ve this·'ll this·'ll·'ve this·'s this·d this·d·ve this·ll this·ll·ve this·s those·'d "
    "those·'d·'ve those·'ll those·'ll·'ve those·'re those·'ve those·d those·d·ve those·ll those·ll·ve "
    "those·re those·ve u. v. v.s. v.v v_v vs. w. w/o was·n't was·nt we·'d we·'d·'ve we·'ll we·'ll·'ve "
    "we·'re we·'ve we·d we·d·ve we·ll·ve were·n't were·nt we·ve what·'d what·'d·'ve what·'ll what·'ll·'ve "
    "what·'re what·'s what·'ve what·d what·d·ve what·ll what·ll·ve what·re what·s what·ve when·'d "
    "when·'d·'ve when·'ll when·'ll·'ve when·'re when·'s when·'ve when·d when·d·ve when·ll when·ll·ve "
    "when·re when·s when·ve where·'d where·'d·'ve where·'ll where·'ll·'ve where·'re where·'s where·'ve "
    "where·d where·d·ve where·ll where·ll·ve where·re where·s where·ve who·'d who·'d·'ve who·'ll "
    "who·'ll·'ve who·'re who·'s who·'ve who·d who·d·ve who·ll who·ll·ve who·s who·ve why·'d why·'d·'ve "
    "why·'ll why·'ll·'ve why·'re why·'s why·'ve why·d why·d·ve why·ll why·ll·ve why·re why·s why·ve "
    "wo·n't wo·n't·'ve wo·nt wo·nt·ve would·'ve would·n't would·n't·'ve would·nt would·nt·ve would·ve x. "
    "xD xDD y'·all y. y·all you·'d you·'d·'ve you·'ll you·'ll·'ve you·'re you·'ve you·d you·d·ve you·ll "
    "you·ll·ve you·re you·ve z. ¯\\(ツ)/¯ °·C·. °·F·. °·K·. °·c·. °·f·. °·k·. ä. ö. ü. ಠ_ಠ ಠ︵ಠ — ‘S ‘s "
)


def _special_cases() -> dict[str, str]:
    cases: dict[str, str] = {}
    for entry in _SPECIAL_TABLE.split():
        cases[entry.replace("·", "")] = entry.replace("·", _SEP)
        if "'" in entry:
            curly = entry.replace("'", "’")
            cases[curly.replace("·", "")] = curly.replace("·", _SEP)
    return cases


_SPECIALS = _special_cases()
_SPECIAL_KEYS = pl.Series("key", list(_SPECIALS), dtype=pl.String)
_SPECIAL_VALUES = pl.Series("value", list(_SPECIALS.values()), dtype=pl.String)


def _special(s: pl.Expr, specials: bool) -> pl.Expr:
    return s.is_in(_SPECIAL_KEYS.implode()) if specials else pl.lit(False)


def _strip_affixes(chunks: pl.Series, specials: bool) -> pl.DataFrame:
    """spaCy's `_split_affixes` on distinct chunks: columns `chunk`, `pre`, `core`, `suf` (tokens joined)."""

    def _is_special(s: pl.Expr) -> pl.Expr:
        return _special(s, specials)

    state = pl.DataFrame({"chunk": chunks}).with_columns(
        pl.col("chunk").alias("core"),
        pl.lit("").alias("pre"),
        pl.lit("").alias("suf"),
        ((pl.col("chunk") == "") | _is_special(pl.col("chunk"))).alias("done"),
    )
    finished = []
    for _ in range(_MAX_ROUNDS):
        finished.append(state.filter("done"))
        state = state.filter(~pl.col("done"))
        if state.is_empty():
            break
        s = pl.col("core")
        prefix = s.str.extract(_PREFIX, 1)
        # `\+(?![0-9])`: a plus sign before a digit is no prefix
        prefix = pl.when((prefix == "+") & s.str.contains(r"^\+[0-9]")).then(None).otherwise(prefix)
        pre_len = prefix.str.len_chars().fill_null(0)
        state = state.with_columns(prefix.alias("_p"), pre_len.alias("_pl"))
        s, p, pl_ = pl.col("core"), pl.col("_p"), pl.col("_pl")
        minus_pre = s.str.slice(pl_)
        stop_pre = p.is_not_null() & (minus_pre != "") & _is_special(minus_pre)
        rest = minus_pre
        suffix = pl.coalesce(*(rest.str.extract(pattern, 0).str.slice(skip) for pattern, skip in _SUFFIXES))
        state = state.with_columns(suffix.alias("_q"), stop_pre.alias("_sp"))
        q = pl.col("_q")
        q_len = q.str.len_chars().fill_null(0)
        minus_suf = s.str.slice(0, s.str.len_chars() - q_len)
        stop_suf = ~pl.col("_sp") & q.is_not_null() & (minus_suf != "") & _is_special(minus_suf)
        has_p, has_q = p.is_not_null(), q.is_not_null()
        take_p = pl.col("_sp") | (~stop_suf & has_p)
        take_q = stop_suf | (~pl.col("_sp") & has_q)
        new_core = (
            pl.when(pl.col("_sp"))
            .then(minus_pre)
            .when(stop_suf)
            .then(minus_suf)
            .when(has_p & has_q)
            .then(s.str.slice(pl_, s.str.len_chars() - pl_ - q_len))
            .when(has_p)
            .then(minus_pre)
            .when(has_q)
            .then(minus_suf)
            .otherwise(s)
        )
        state = state.with_columns(
            pl.when(take_p).then(pl.col("pre") + p + _SEP).otherwise(pl.col("pre")).alias("pre"),
            pl.when(take_q).then(_SEP + q + pl.col("suf")).otherwise(pl.col("suf")).alias("suf"),
            new_core.alias("core"),
            (pl.col("_sp") | stop_suf | ~(has_p | has_q)).alias("_stop"),
        ).with_columns((pl.col("_stop") | (pl.col("core") == "") | _is_special(pl.col("core"))).alias("done"))
        state = state.drop("_p", "_pl", "_q", "_sp", "_stop")
    finished.append(state)
    return pl.concat(finished).drop("done")


def _attach(frame: pl.DataFrame, specials: bool) -> pl.DataFrame:
    """spaCy's `_attach_tokens`: the core as a special case, a URL, or split on infixes."""
    core = pl.col("core")
    split = core
    for pattern, replacement in _INFIXES:
        # two passes: a match consumes the characters its look-arounds would only have looked at
        split = split.str.replace_all(pattern, replacement).str.replace_all(pattern, replacement)
    attached = (
        pl.when(core == "")
        .then(pl.lit(_SEP))
        .when(_special(core, specials))
        .then(core.replace_strict(_SPECIAL_KEYS, _SPECIAL_VALUES, default=core))
        .when(core.str.contains(_URL))
        .then(core)
        .otherwise(split)
    )
    joined = (
        (pl.col("pre") + attached + pl.col("suf")).str.replace_all(f"{_SEP}+", _SEP).str.strip_chars(_SEP)
    )
    return frame.select("chunk", joined.alias("tokens"))


def _split_chunks(chunks: pl.Series, specials: bool = True) -> pl.DataFrame:
    """`chunk` -> `tokens` (joined by `_SEP`) for distinct whitespace-free chunks, before the merges."""
    fast = chunks.str.contains(r"^(?:\p{L}+|[0-9]+)$") & ~chunks.is_in(_SPECIAL_KEYS.implode())
    slow = _attach(_strip_affixes(chunks.filter(~fast), specials), specials)
    return pl.concat(
        [pl.DataFrame({"chunk": chunks.filter(fast)}).with_columns(pl.col("chunk").alias("tokens")), slow]
    )


@functools.cache
def _merges() -> tuple[pl.Series, pl.Series]:
    """spaCy's special-case matcher: special cases that the affix rules alone split into several tokens
    (`Kan.` -> `Kan .`, `):` -> `) :`) are merged back wherever those tokens follow each other in a chunk."""
    split = _split_chunks(_SPECIAL_KEYS, specials=False).filter(
        pl.col("tokens").str.contains(_SEP, literal=True)
    )
    split = split.sort(pl.col("tokens").str.len_chars(), descending=True)
    patterns = _SEP + split["tokens"] + _SEP
    replacements = _SEP + split["chunk"].replace_strict(_SPECIAL_KEYS, _SPECIAL_VALUES) + _SEP
    return patterns, replacements


def _tokenize_chunks(chunks: pl.Series) -> pl.DataFrame:
    """`chunk` -> `tokens` (List[String]) for distinct whitespace-free chunks."""
    patterns, replacements = _merges()
    padded = _SEP + pl.col("tokens") + _SEP
    for _ in range(2):  # two passes: neighbouring matches share the separator between them
        padded = padded.str.replace_many(patterns.implode(), replacements.implode(), leftmost=True)
    return _split_chunks(chunks).select(
        "chunk",
        padded.str.strip_chars(_SEP)
        .str.split(_SEP)
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("tokens"),
    )


def _words_series(texts: pl.Series) -> pl.Series:
    docs = pl.DataFrame({"chunks": texts.str.extract_all(_CHUNK)}).with_row_index("_doc")
    flat = docs.explode("chunks").drop_nulls("chunks")
    table = _tokenize_chunks(flat["chunks"].unique())
    tokens = (
        flat.join(table, left_on="chunks", right_on="chunk", how="left", maintain_order="left")
        .group_by("_doc", maintain_order=True)
        .agg(pl.col("tokens").explode())
    )
    out = docs.select("_doc").join(tokens, on="_doc", how="left", maintain_order="left")["tokens"]
    empty = pl.lit([], dtype=pl.List(pl.String))
    return pl.select(pl.when(texts.is_not_null()).then(out.fill_null(empty))).to_series().alias(texts.name)


def words(text: pl.Expr) -> pl.Expr:
    """The words of `text` as datatrove's English `split_into_words` (spaCy's tokenizer) gives them."""
    return text.map_batches(_words_series, return_dtype=pl.List(pl.String), is_elementwise=True)


def word_count(text: pl.Expr) -> pl.Expr:
    """The number of `words(text)`."""
    return words(text).list.len()
