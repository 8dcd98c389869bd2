"""Synthetic demo corpus for ``make demo``.

Every text is produced here from invented word lists and sentence templates: originals in six
made-up topics, exact duplicates (byte-identical or differing in case and whitespace), near
duplicates (a few percent of words edited, or a boilerplate line added) with their achieved
word-5-gram Jaccard, several kinds of junk and four bad records for the quarantine stage.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import BinaryIO

__all__ = ["KINDS", "TOPICS", "DemoCorpus", "jaccard", "word_shingles", "write_demo_corpus"]

KINDS = ("original", "exact_duplicate", "near_duplicate", "junk", "bad_record")

# --------------------------------------------------------------------------------------------
# Template engine: "{slot}" draws from a word list, a number generator or the document context;
# "[a|b|c]" picks one literal alternative.


class _Ctx:
    """Marker for a slot filled from the per-document context."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class _Alt:
    """Alternatives that themselves contain slots."""

    __slots__ = ("options",)

    def __init__(self, options: tuple[tuple[object, ...], ...]) -> None:
        self.options = options


_Part = str | tuple[str, ...] | _Ctx | _Alt | Callable[[Random], str]
_CtxDict = dict[str, str | tuple[str, ...]]
_TOKEN_RE = re.compile(r"(\{\w+\}|\[[^\]]*\])")


def _split(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


_FIRST = _split(
    "Ada, Bram, Cora, Dario, Edda, Finn, Greta, Hugo, Ines, Jonas, Kaia, Leon, Mira, Nils, Odile, Pavel,"
    "Quinn, Rosa, Soren, Tilda, Ulric, Vera, Wim, Xenia, Yuri, Zelda, Arlo, Bettina, Caspar, Dagny, Emil,"
    "Fenna, Gideon, Hanne, Ivo, Juno, Kasimir, Linnea, Magnus, Nora, Otto, Petra, Rune, Sabine, Tobias,"
    "Una, Viggo, Wren, Elsa, Marten, Ilse, Teodor, Agnes, Lars, Maud, Oskar, Selma, Henrik"
)
_SUR_A = _split(
    "Ash, Bell, Crane, Dun, Elm, Fair, Gold, Hart, Ire, Kettle, Lark, Mar, North, Oak, Pen, Quill, Rook,"
    "Stone, Thorn, Wood, Brack, Cobble, Fenn, Holl, Wether, Birch, Top, Marsh"
)
_SUR_B = _split("wright, field, more, ley, ridge, son, wood, brook, worth, stead, gate, ford, hall, well")
_SURNAMES = tuple(a + b for a in _SUR_A for b in _SUR_B)
_TOWN_A = _split(
    "Bram, Cal, Dorn, Elde, Fal, Gorse, Hollin, Kest, Lum, Mere, Nether, Orm, Pell, Quar, Rath, Sel,"
    "Tarn, Ulver, Vane, Wick, Yarrow, Brin, Corr, Dusk, Fenwy, Grisel, Howe, Lidden"
)
_TOWN_B = _split("ford, haven, by, mere, wick, stow, bridge, holm, port, combe, ton, dale, thorpe, ness")
_TOWNS = tuple(a + b for a in _TOWN_A for b in _TOWN_B)
_STREET_A = _split(
    "Mill, Tanner, Chapel, Orchard, Rope, Kiln, Ferry, Wool, Castle, Beacon, Salt, Cooper, Bakers,"
    "Quarry, Weaver, Lantern, Pound, Tithe, Market, Granary"
)
_STREET_B = _split("Lane, Street, Row, Road, Hill, Walk, Close, Yard, Way, Terrace")
_STREETS = tuple(f"{a} {b}" for a in _STREET_A for b in _STREET_B)
_DAYS = _split("Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday")
_MONTHS = _split(
    "January, February, March, April, May, June, July, August, September, October, November, December"
)
_COLOURS = _split("slate grey, moss green, mustard, navy, brick red, cream, charcoal, teal, sand, plum")

_LISTS: dict[str, tuple[str, ...]] = {
    "first": _FIRST,
    "surname": _SURNAMES,
    "street": _STREETS,
    "day": _DAYS,
    "month": _MONTHS,
    "colour": _COLOURS,
    "civic_action": _split(
        "resurface the lane behind the mill, extend the library hours, plant limes along the ring road,"
        "repaint the old footbridge, add a crossing near the primary school, buy a second gritting lorry,"
        "open a weekend market, hire a part-time gardener, rebuild the bandstand, widen the cycle path,"
        "fit solar panels to the hall roof, move the recycling bins, restore the village pump,"
        "light the towpath, replace the goalposts on the rec"
    ),
    "civic_issue": _split(
        "parking near the station, noise from the quarry, litter on the green, potholes on the hill road,"
        "the late bus service, flooding by the ford, dogs on the playing field, allotment rents,"
        "speeding lorries, the stopped church clock, gulls raiding the bins, the muddy towpath,"
        "fireworks after midnight, the empty shop units, overgrown hedges on the school route"
    ),
    "civic_thing": _split(
        "footbridge, bandstand, library, public toilets, bowling green, duck pond, car park, community hall,"
        "bus shelter, skate park, clock tower, paddling pool, cemetery gates, allotment shed, cattle grid"
    ),
    "civic_request": _split(
        "a lower speed limit, a new zebra crossing, longer opening hours, a dog bin by the stile,"
        "more benches on the front, a yearly fun run, a review of the parking charges, a youth club,"
        "better signs to the beach, a ban on overnight camper vans"
    ),
    "building_plan": _split(
        "a glass porch, two holiday lets, a garden room, a farm shop, a loft conversion, a bicycle store,"
        "a replacement barn, six starter homes, a roadside cafe, a new vets surgery"
    ),
    "venue": _split(
        "Old Corn Exchange, parish hall, upper room of the library, school gymnasium, fire station annexe,"
        "back room of the Lamb and Flag, Methodist schoolroom, sailing club lounge"
    ),
    "brand": _split(
        "Vantoro, Plimsey, Orvane, Kettrick, Lumora, Brisk and Bold, Heddon, Zolvik, Tamberlin, Quoxa,"
        "Nimbly, Castellan, Frostwell, Arbent"
    ),
    "part": _split(
        "handle, lid, power button, strap, zip, hinge, cable, display, base, nozzle, charging port, dial,"
        "trigger, buckle, filter, side panel, carry case, remote"
    ),
    "use_case": _split(
        "a small kitchen, weekend camping, a student flat, daily commuting, a busy family, long walks,"
        "occasional DIY, working from home, a beginner, travel abroad, an allotment"
    ),
    "good_point": _split(
        "it heats quickly, the finish is tidy, it folds flat, it is easy to clean, the price was fair,"
        "it barely makes a sound, the grip is comfortable, spare parts are cheap, it looks smart,"
        "the battery swaps out, the controls are simple"
    ),
    "bad_point": _split(
        "the cable is short, the lid sticks, it scratches easily, the manual is vague, the fan is loud,"
        "it smells of plastic at first, the box was damaged, the app keeps crashing, it is heavy,"
        "the light is far too bright"
    ),
    "shop": _split(
        "a high street shop, the manufacturer, a catalogue, an online marketplace, a warehouse sale,"
        "the garden centre, a department store"
    ),
    "time_ago": _split(
        "three weeks ago, last spring, just before Christmas, about a month ago, in the summer sales,"
        "two years ago, on a whim last week, after my old one broke"
    ),
    "stars": _split("one, two, three, four, five"),
    "sky": _split(
        "overcast, bright, hazy, grey, partly cloudy, clear, misty, murky, sunny, changeable, dull, blustery"
    ),
    "direction": _split("north, north-east, east, south-east, south, south-west, west, north-west"),
    "precip": _split("showers, drizzle, sleet, hail, heavy rain, thunder, snow flurries, light rain"),
    "hazard": _split(
        "standing water, black ice, low sun glare, fallen branches, drifting snow, poor visibility,"
        "strong crosswinds, flash flooding"
    ),
    "level": _split("low, moderate, high, very high"),
    "road": _split(
        "the moor road, the coast road, the bypass, the old drove road, the top road, the ring road"
    ),
    "boat_type": _split("trawler, ferry, crabber, coaster, tug, yacht, dredger, pilot boat, ketch, lifeboat"),
    "cargo": _split(
        "timber, road salt, fertiliser, slate, barley, fuel oil, sand, scrap metal, feed pellets, stone"
    ),
    "fish": _split("cod, mackerel, haddock, plaice, crab, lobster, whelks, sprats, hake, skate, pollack"),
    "sea_state": _split("calm, slight, moderate, choppy, rough, heavy, confused, lumpy"),
    "quay": _split("north, east, fish, ferry, timber, inner, outer, coal"),
    "fat": _split("olive oil, butter, rapeseed oil, lard, ghee, sunflower oil"),
    "ingredient": _split(
        "onion, garlic, carrot, celery, red lentils, pearl barley, chickpeas, leeks, tinned tomatoes,"
        "spinach, mushrooms, potatoes, plain flour, caster sugar, oats, grated cheese, milk, cream,"
        "stock, chopped parsley, breadcrumbs, smoked haddock, chicken thighs, butter beans, rice, apples"
    ),
    "spice": _split(
        "salt, black pepper, paprika, cumin, nutmeg, cinnamon, dried thyme, chilli flakes, mustard powder"
    ),
    "side": _split(
        "crusty bread, a green salad, buttered greens, rice, mashed potato, pickled cabbage, flatbreads"
    ),
    "garnish": _split("yoghurt, chopped chives, lemon zest, toasted seeds, grated cheese, olive oil"),
    "surface": _split("top, crust, edge, middle, sauce, pastry"),
    "whole_item": _split("eggs, bay leaves, lemons, cloves, shallots, apples"),
    "filler_clause": _split(
        "the summer fair raised more than expected, the old mill road is closing for repairs,"
        "the ferry timetable changes next month, the school choir is looking for tenors,"
        "the lending library now opens on Sundays, a lost tortoise was found by the pond,"
        "the bakery on the square is changing hands, the autumn show needs more volunteers,"
        "the new footpath signs have finally arrived, the bus company is hiring drivers,"
        "the swimming baths reopen after the holidays, a film night is planned for the village hall,"
        "the post office queue has moved next door, the quiz team won the county shield,"
        "the orchard group pressed a record amount of juice, the toddler group needs a new home,"
        "the repair cafe fixed forty toasters, someone has been painting the phone box purple,"
        "the chess club meets upstairs now, the war of the hedge trimmers is finally over"
    ),
    "site": _split(
        "Bramford Daily, Kestwick Courier, Tarnmere Post, Lumby Herald, Wickhaven Notes, Pellport Echo"
    ),
}


def _num(lo: int, hi: int, step: int = 1) -> Callable[[Random], str]:
    def draw(rng: Random) -> str:
        return str(rng.randrange(lo, hi + 1, step))

    return draw


def _time(rng: Random) -> str:
    return f"{rng.randint(5, 11)}:{rng.choice((0, 5, 15, 20, 30, 40, 45, 50)):02d}"


def _time_pm(rng: Random) -> str:
    return f"{rng.randint(1, 9)}:{rng.choice((0, 10, 15, 25, 30, 35, 45, 55)):02d}"


def _money(rng: Random) -> str:
    return f"${rng.randint(2, 480)}.{rng.choice(('00', '25', '50', '75', '99', '49'))}"


def _ordinal(rng: Random) -> str:
    n = rng.randint(1, 28)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _score(rng: Random) -> str:
    lo = rng.randint(0, 3)
    return f"{lo + rng.randint(1, 4)} to {lo}"


def _votes(rng: Random) -> str:
    lo = rng.randint(0, 5)
    return f"{lo + rng.randint(1, 6)} votes to {lo}"


def _measure(rng: Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.randrange(50, 801, 50)} grams"
    if kind == 1:
        return rng.choice(("half a cup", "1 cup", "2 cups", "3 cups", "a quarter cup", "1 1/2 cups"))
    if kind == 2:
        return f"{rng.randint(1, 4)} tablespoons"
    return f"{rng.randrange(100, 1001, 50)} millilitres"


def _tide(rng: Random) -> str:
    return f"{rng.randint(1, 5)}.{rng.randint(0, 9)}"


_NUMS: dict[str, Callable[[Random], str]] = {
    "n_small": _num(2, 12),
    "n_mid": _num(12, 95),
    "n_big": _num(40, 4000),
    "n_min": _num(10, 120, 5),
    "temp": _num(-3, 31),
    "temp_low": _num(-8, 14),
    "pct": _num(5, 95, 5),
    "minute": _num(2, 89),
    "channel": _num(6, 16),
    "oven": _num(150, 240, 10),
    "runs": _num(40, 320),
    "points": _num(3, 61),
    "year": _num(1994, 2024),
    "time": _time,
    "time_pm": _time_pm,
    "money": _money,
    "ordinal": _ordinal,
    "score": _score,
    "votes": _votes,
    "measure": _measure,
    "tide": _tide,
}


def _compile(template: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    for piece in _TOKEN_RE.split(template):
        if not piece:
            continue
        if piece[0] == "{" and piece[-1] == "}":
            name = piece[1:-1]
            if name in _LISTS:
                parts.append(_LISTS[name])
            elif name in _NUMS:
                parts.append(_NUMS[name])
            else:
                parts.append(_Ctx(name))
        elif piece[0] == "[" and piece[-1] == "]":
            options = piece[1:-1].split("|")
            if any("{" in o for o in options):
                parts.append(_Alt(tuple(_compile(o) for o in options)))
            else:
                parts.append(tuple(options))
        else:
            parts.append(piece)
    return tuple(parts)


def _render(parts: tuple[_Part, ...], ctx: _CtxDict, rng: Random) -> str:
    s = _fill(parts, ctx, rng)
    return s[:1].upper() + s[1:]


def _fill(parts: tuple[_Part, ...], ctx: _CtxDict, rng: Random) -> str:
    rnd = rng.random
    out: list[str] = []
    for p in parts:
        cls = p.__class__
        if cls is str:
            out.append(p)  # type: ignore[arg-type]
        elif cls is tuple:
            out.append(p[int(rnd() * len(p))])  # type: ignore[index,arg-type]
        elif cls is _Ctx:
            v = ctx[p.key]  # type: ignore[union-attr]
            out.append(v if v.__class__ is str else v[int(rnd() * len(v))])  # type: ignore[index]
        elif cls is _Alt:
            opts = p.options  # type: ignore[union-attr]
            out.append(_fill(opts[int(rnd() * len(opts))], ctx, rng))  # type: ignore[arg-type]
        else:
            out.append(p(rng))  # type: ignore[operator]
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Topics: sentence templates plus a per-document context (names that recur within a document).

_TEMPLATES: dict[str, list[str]] = {
    "council": [
        "[Funding|Money|Cash] for the {civic_thing} [will come|is expected|may come] from the {year} reserve,"
        " [said|according to] {person2}.",
        "The [minutes|notes] [record|show] that {person} [abstained|voted against|declared an interest]"
        " on [item|point] {n_small}.",
        "[Sadly|Regrettably|Once again], the [grant|bid|application] for {civic_request} [was turned down|"
        "failed|fell short] by {money}.",
        "A [site visit|walkabout|survey] of {street} [is planned|was arranged|took place] [for|on] {day}"
        " [morning|afternoon] with {n_small} [councillors|officers|residents].",
        "{surname_p} [suggested|proposed|floated] [asking|inviting|writing to] the county about"
        " {civic_issue}.",
        "[Insurance|Maintenance|Cleaning] [costs|bills] for the {civic_thing} [rose|fell|doubled] to {money}"
        " [last|this] year.",
        "The [bonfire|summer fete|lantern parade|carol evening] [will go ahead|is cancelled|moves] [on|to]"
        " {day} [after|despite] [complaints|a vote|the forecast].",
        "[Children|Pupils] from the [primary|village|church] school [presented|showed|read out] {n_small}"
        " [posters|poems|ideas] about {civic_issue}.",
        "[Dog|Litter|Parking] [fines|warnings] [issued|handed out] near {street} [reached|totalled] {n_mid}"
        " [in|during] {month}.",
        "The [lease|contract|agreement] [on|for] the {civic_thing} [runs out|ends|is up] in {month} {year}.",
        "The {town} council met on {day} evening in the {venue} with {n_small} members present.",
        "Councillor {surname_p} [opened|began|started] the [session|meeting] by"
        " [reading|reviewing|summarising] the minutes of the [last|previous|{month}] meeting.",
        "A [proposal|motion|request] to {civic_action} was [carried|approved|deferred|rejected] by {votes}.",
        "Residents of {street} [complained|raised concerns|wrote in] about {civic_issue}.",
        "The treasurer, {person2}, reported a [surplus|shortfall|balance] of {money} for the [quarter|year].",
        "[Several|Two|Many|A few] members asked whether the {civic_thing} could be"
        " [repaired|replaced|moved|repainted] before {month}.",
        "{person2} [noted|pointed out|reminded everyone] that the {civic_thing} [on|near|behind] {street}"
        " had been [closed|neglected|flooded|vandalised] since {month}.",
        "After a [long|short|heated|friendly] discussion, the [council|committee|chair] agreed to"
        " {civic_action} [next year|within six weeks|by the spring|once funds allow].",
        "The [next|following] meeting [will be|is to be] held on {day} the {ordinal} of {month} at {time}.",
        "[Public|Open] comments [included|covered|touched on] {civic_issue} and {civic_issue}.",
        "The planning [officer|clerk] [presented|tabled|circulated] {n_small} applications,"
        " [including|among them] one for {building_plan} on {street}.",
        "{person} [thanked|praised|congratulated] the volunteers who [cleaned|painted|restored|cleared]"
        " the {civic_thing} [last|in] {month}.",
        "A vote on {civic_issue} was [postponed|delayed|put off] until [more|further|updated] figures"
        " [are|have been] [available|gathered|checked].",
        "Members [heard|received] a [letter|petition] signed by {n_big} residents [asking|calling] for"
        " {civic_request}.",
        "The clerk [confirmed|explained] that {n_small} [streetlights|benches|bins|signs] would be"
        " [installed|replaced|removed] on {street} [in|by|before] {month}.",
        "Questions about the {civic_thing} budget were [referred|passed|left] to the finance"
        " [group|subcommittee|panel] [for now|until {month}].",
        "The [chair|mayor|deputy chair], {person}, closed the meeting at {time_pm}.",
        "It was [agreed|resolved|decided] that the {civic_thing} [will|would] [stay|remain] open"
        " [until|past] {time_pm} [during|throughout] {month}.",
        "[Quotes|Estimates|Bids] to {civic_action} [ranged|varied] between {money} and {money}.",
        "{first} {surname} from {street} asked why {civic_issue} had not been [raised|dealt with|costed]"
        " [sooner|earlier|this year].",
        "Apologies were [received|sent] from {first} {surname} and {first} {surname}.",
        "The [youth|heritage|footpaths] [group|forum|working party] [asked|applied] for a grant of {money}"
        " [towards|for] {civic_request}.",
        "[Police|The community officer] reported {n_small} incidents [involving|linked to] {civic_issue}"
        " since the [last|previous] meeting.",
    ],
    "review": [
        "[Cleaning|Emptying|Charging] it [takes|needs] [about|around] {n_mid} [seconds|minutes], [and|but]"
        " the {part} [gets|becomes] [grubby|warm|stiff] [quickly|over time].",
        "[The|My] [box|parcel|package] [arrived|turned up|came] on {day} with the {part} [loose|taped on|"
        "missing].",
        "[Fit|Build quality|Design] [is|seems] [a step up|a step down|about the same] [from|compared to] my"
        " {colour} {brand}.",
        "{first} [thinks|reckons|insists] the {part} [is|looks] [ugly|lovely|fussy], [which|and that]"
        " [matters|is fair|I ignore].",
        "[Warranty|Guarantee] [cover|length] [is|runs] {n_small} years [if you register|from purchase|"
        "with receipt].",
        "[In use|Day to day|Most days] the {product} [copes|manages|struggles] with {use_case}.",
        "[One|A small|An odd] [quirk|niggle|flaw]: the {part} [clicks|hums|flashes] [when|whenever|each time]"
        " the {part} [moves|opens|is pressed].",
        "[At|For] {money} [it is|this is] [a bargain|fair value|overpriced|about right] [next to|beside]"
        " the {brand} [alternative|rival|equivalent].",
        "[I|We] [keep|store|hang] it [in|on|by] the [hall|shed|cupboard|garage] [and|so] [space|room|"
        "clutter] [is|was] [not a problem|a worry].",
        "[Packaging|The box|The wrapping] [was|is] [mostly|partly|all] [card|plastic|paper], [which|and"
        " that] {first} [liked|noticed|grumbled about].",
        "I bought the {product} {time_ago} and have used it [almost daily|most weekends|twice a week|on and"
        " off] [since|ever since].",
        "[Out of the box|At first|Straight away], the {product} felt [solid|flimsy|heavier than expected|"
        "surprisingly light|well made].",
        "The {part} [is|feels|seems] [sturdy|a bit loose|cheaply finished|excellent|adequate], [but|and|"
        "although] the {part} [squeaks|rattles|works fine|could be better].",
        "Battery life [is|was] [about|roughly|close to] {n_small} hours, [which is|and that is]"
        " [plenty|not enough|fine] for {use_case}.",
        "I paid {money} [at|from|through] {shop} and [delivery|shipping] took {n_small} days.",
        "[My partner|My neighbour|My son|My daughter|A friend], {first}, [tried it|borrowed it|tested it]"
        " and [liked|disliked|was unsure about] the {part}.",
        "Compared with the {brand} I [had|owned|used] before, this one is [quieter|louder|faster|slower|"
        "easier to clean|harder to set up].",
        "[Pros|Good points]: {good_point}, {good_point}, and {good_point}.",
        "[Cons|Bad points|Downsides]: {bad_point} and {bad_point}.",
        "[Overall|All in all|On balance], I [would give|am giving] the {product} {stars} out of five"
        " [stars|points].",
        "The instructions were [clear|confusing|missing a page|printed far too small], [so|and] setup took"
        " [about|nearly|under] {n_mid} minutes.",
        "After {n_small} weeks the {part} started to [wobble|fade|stick|crack], which was"
        " [disappointing|annoying|a shame].",
        "Customer service at {maker} [replied|answered] within {n_small} [hours|days] and [sent a spare|"
        "offered a refund|were not much help].",
        "If you [need|want] something for {use_case}, [this is|it is] [a good pick|worth a look|"
        "probably overkill|not the best choice].",
        "It comes in {colour} and {colour}, and I [chose|picked|went for] the {colour} [one|version].",
        "[Honestly|Frankly|To be fair], {good_point}, [even if|though|while] {bad_point}.",
        "[Would I buy it again?|Do I regret it?|Was it worth it?] [Yes|Probably|Not really|Maybe], given"
        " {use_case}.",
        "[Noise|Weight|Size] [is|was] [my main worry|the deciding factor|not an issue] [with|for] the {part}"
        " on the {product}.",
        "The {maker} website [lists|claims|promises] {n_mid} [uses|cycles|months] before the {part}"
        " [needs|wants] replacing.",
        "[Update|Edit|Later note]: after {n_small} months, {bad_point}, [so|and] I [dropped|lowered|kept]"
        " my rating.",
        "I [tested|tried|used] it [alongside|against|next to] a {brand} [borrowed|on loan|bought second-hand]"
        " from {first}.",
    ],
    "weather": [
        "[Visibility|Sight lines] [on|across] {road} [could|may|will] [fall|drop] [below|to] {n_mid} metres"
        " [early|by dawn|at times].",
        "[Humidity|The air] [stays|remains|feels] [damp|muggy|crisp|dry] [through|into] {day} with {sky}"
        " [patches|periods|intervals].",
        "[Ferries|Crossings|Boat trips] from {town2} [may|could] [face|see] [delays|cancellations] [if|as]"
        " [winds|gusts] [top|pass] {n_mid} knots.",
        "[School|Village|Farm] [sports|fetes|markets] on {day} [should|ought to] [escape|miss|dodge] the"
        " {precip} [until|before] {time_pm}.",
        "[Snow|Sleet|Ice] [is unlikely|may settle|could linger] above {n_big} metres [on|over|across] the"
        " {valley} [hills|tops|fells].",
        "{person} [adds|points out|reminds us] [that|how] {month} [has been|was] [the wettest|the driest|"
        "a mild|a cold] [one|month] [since|for] {year}.",
        "[A|The] {direction} [wind|breeze|airflow] [turns|veers|backs] {direction} [overnight|by dawn|"
        "towards evening].",
        "[Lightning|Thunder|Heavy bursts] [are|is] [possible|likely|not expected] [around|near|over] {town2}"
        " [late|early] on {day}.",
        "[Air quality|Ozone|Dust] [is|stays] {level} [in|around] {town} [because of|after|despite] the"
        " {sky} [spell|days|weather].",
        "[Overnight|Tonight], [skies|clouds] [clear|thicken|break] [and|while] [temperatures|readings]"
        " [slip|sink|hover] to {temp_low}.",
        "[Good morning|Good evening|Hello], this is the {town} weather [report|update|summary] for {day}.",
        "[Skies|Conditions] will [start|begin] {sky} [before|then] [turning|becoming] {sky} by {time}.",
        "Temperatures [will reach|should peak at|may climb to] {temp} degrees [in the afternoon|around"
        " midday|inland], [falling|dropping|easing] to {temp_low} overnight.",
        "[Winds|A breeze] from the {direction} [will|may|should] [reach|gust to|average] {n_mid} knots"
        " [along the coast|on higher ground|near the estuary].",
        "There is a {pct} percent chance of {precip} [later in the day|after dark|during the evening rush|"
        "by tomorrow morning].",
        "[Farmers|Walkers|Cyclists|Drivers] on {road} should [expect|watch for|prepare for] {hazard}.",
        "{day} [looks|will be] [drier|wetter|colder|milder|brighter] with {sky} spells and"
        " [light|patchy|heavy] {precip}.",
        "Pollen counts [are|will be] {level}, and [the UV index|sunburn risk] [is|will be] {level}.",
        "Sunrise [is|comes] at {time} and sunset at {time_pm}.",
        "[Rainfall|Total rainfall] [this week|so far this month|over the weekend] [was|reached] {n_mid}"
        " millimetres at the {town} gauge.",
        "Fog [banks|patches] [may linger|could form|are likely] in the {valley} valley until {time}.",
        "[Looking ahead|Further out|For the weekend], {sky} conditions [return|settle in|are expected] with"
        " highs near {temp}.",
        "[Our|The] [forecaster|weather desk], {person}, [says|notes|warns] that {hazard} [is possible|"
        "cannot be ruled out|remains unlikely] on {road}.",
        "[Last night|Yesterday] the [lowest|highest] [reading|temperature] was {temp_low} degrees at"
        " {town2}.",
        "[Sea|River] temperatures [are|remain] [around|near|just under] {temp_low} degrees [off|at] {town2}.",
        "[Frost|Dew|Mist] [will|may] [clear|lift|burn off] [slowly|quickly|by late morning] [in|around]"
        " {town2}, [with|and] {sky} skies [after|later].",
        "The [river|burn|beck] at {town2} [stands|stood] at {tide} metres, [rising|falling|steady]"
        " [since|after] {day}.",
        "[Gardeners|Growers|Beekeepers] [should|might want to] [cover|protect|check] [tender plants|"
        "seedlings|hives] [before|ahead of] {day} night.",
        "A {level} pressure [system|ridge|area] [moving|drifting|pushing] in from the {direction} [brings|"
        "will bring] {precip} [by|on|before] {day}.",
        "[Average|Typical|Normal] [highs|temperatures] for {month} [are|sit] [near|around] {temp} degrees.",
    ],
    "harbour": [
        "[Divers|Engineers|Surveyors] [inspected|checked|examined] the {quay} [gates|wall|piles] on {day}"
        " [and|but] [found|reported] [no|minor|serious] [damage|wear|cracks].",
        "[Anglers|Walkers|Visitors] [are|have been] [asked|told|warned] to [keep off|avoid|stay clear of]"
        " the {quay} [steps|ladder|slip] [at|during] [high water|night|gales].",
        "[The|A] {boat_type} [registered|based|from] [in|at] {port} [landed|unloaded|brought in] {n_big}"
        " kilos of {fish} on {day}.",
        "[Moorings|Pontoon spaces|Berths] [for|through] {month} [are|remain] [full|half empty|available]"
        " [at|from] {money} a [night|week].",
        "{person} [on|aboard] the {boat} [spotted|saw|reported] [seals|a whale|porpoises|a drifting log]"
        " [off|near] {headland} [at|around] {time}.",
        "[Harbour|Port] [charges|fees] [rise|will rise|go up] by {pct} percent [from|in] {month}.",
        "[Tonnage|Cargo|Traffic] [through|across|at] {town} [is|was] [up|down] {pct} percent on [last|the"
        " previous] {month}.",
        "The [old|new|spare] [crane|winch|fork lift] on the {quay} [quay|side] [failed|broke|jammed]"
        " [twice|again|once] [this|last] week.",
        "[Tide|Current] [tables|charts] for {month} [are|can be] [posted|pinned|collected] [at|by|outside]"
        " the [office|chandlery|slipway].",
        "{person2} [leaves|retires from|steps down from] the [pilot|harbour|port] [service|board] after"
        " {n_mid} years.",
        "The harbour master at {town} [reported|logged|recorded] {n_mid} [arrivals|departures|vessel"
        " movements] on {day}.",
        "The {boat_type} {boat} [came in|docked|tied up|left] at {time} [with|carrying] {n_big} tonnes of"
        " {cargo}.",
        "High tide [is|will be] at {time} [reaching|at] {tide} metres, and low [tide|water] at {time_pm}.",
        "Berth {n_small} [remains|is|stays] [closed|reserved|under repair] [for dredging|for the ferry|"
        "until further notice].",
        "[Skipper|Captain] {person} of the {boat} [reported|described|mentioned] {sea_state} seas"
        " [off|near|beyond] {headland}.",
        "Landings [today|this morning|overnight] [included|came to] {n_big} kilos of {fish} and {n_mid}"
        " crates of {fish}.",
        "The [fuel|ice|crane] [berth|store|service] [will be|is] [closed|open late|unavailable] on {day}"
        " for [maintenance|an inspection|the holiday].",
        "[Visiting|Leisure] craft [must|should|are asked to] [report to|call] the harbour office on"
        " [channel|radio channel] {channel} [before entering|on arrival|before mooring].",
        "[Harbour dues|Mooring fees] for [the season|visitors|small boats] [are|have been set at|remain]"
        " {money} per [night|metre|week].",
        "A [buoy|marker|light] [off|near|at] {headland} [is|has been reported] [unlit|out of position|"
        "damaged], [so|and] [mariners|crews|skippers] should [keep clear|take care].",
        "The {boat} is [expected|due|scheduled] to [sail|depart|leave] for {port} at {time_pm}.",
        "{sea_state} [conditions|weather] [kept|held] {n_small} boats [in port|alongside|at anchor]"
        " [until|for most of] {day}.",
        "[Dredging|Repairs|Painting] [on|along] the {quay} [quay|wall|pier] [will continue|began|is nearly"
        " finished] [this week|until {month}].",
        "The {boat_type} {boat2} [arrived|returned|came back] from {port} [with|after] [engine trouble|"
        "a full hold|a torn net|a broken winch].",
        "[Prices|Bids] at the {town} fish market [were|stayed] [firm|weak|steady] with {fish} [fetching|"
        "making] {money} a kilo.",
        "The lifeboat [launched|was called out] {n_small} times [this week|since {day}], [once|twice] to"
        " [a drifting dinghy|a yacht aground|an injured angler].",
        "{person2} [of|from] the [pilot|harbour|port] [office|team] [reminded|warned] [skippers|crews]"
        " that the {quay} [slipway|steps|pontoon] [is|remains] [slippery|closed|being rebuilt].",
        "[Swell|Waves] of {tide} metres [are|were] [expected|recorded] [at|off] {headland} [by|around]"
        " {time_pm}.",
        "The [ferry|island boat|mail boat] to {port} [runs|will run|is running] [twice|three times|once]"
        " a day [until|through] {month}.",
    ],
    "recipe": [
        "[Toast|Warm|Dry] {measure} of {ingredient} [in|under] a [hot|dry|low] [pan|grill|oven] [until|till]"
        " [fragrant|coloured|crisp].",
        "[Fold|Stir|Mix] the {ingredient} [through|into|over] the {surface} [gently|quickly|at the end].",
        "[Kids|Children|Guests] [usually|often|always] [ask|beg|come back] for [seconds|more|the recipe]"
        " [when|if] {ingredient} [goes|is] in.",
        "[For|To make] a [vegan|lighter|richer|cheaper] [version|take], [swap|replace|trade] the {fat} for"
        " {fat}.",
        "[Preheat|Heat|Switch on] the oven to {oven} degrees [and|while you] [gather|weigh|prepare] the"
        " {ingredient}.",
        "[Knead|Work|Press] the [dough|mixture|batter] for {n_small} minutes [until|so] it [feels|turns|is]"
        " [smooth|springy|glossy].",
        "[Cover|Wrap|Top] the [tin|dish|bowl] [with|in] [foil|a cloth|a plate] [for|during] the [first|last]"
        " {n_mid} minutes.",
        "{first} [served|brought|made] this [at|for] [a party|the harvest supper|a picnic] in {town}"
        " [last|one] {month}.",
        "[Squeeze|Grate|Add] [half a|one|the juice of a] lemon [over|into|onto] the {surface} [just|right]"
        " before [serving|eating].",
        "[Double|Halve|Triple] the {ingredient} [if|when] [cooking|baking|feeding] for {n_mid}"
        " [people|guests].",
        "This {dish} serves {n_small} and takes about {n_min} minutes [from start to finish|in total|"
        "including prep].",
        "[Start by|Begin by|First, try] [heating|warming] {measure} of {fat} in a [heavy|wide|deep|small]"
        " [pan|pot|frying pan|casserole].",
        "[Add|Stir in|Tip in] {measure} of {ingredient} and [cook|fry|soften] for {n_small} minutes,"
        " [stirring often|until golden|without letting it catch].",
        "[Meanwhile|While that cooks|In a separate bowl], [whisk|mix|beat] {n_small} eggs with {measure} of"
        " {ingredient}.",
        "[Season|Finish] with {n_small} pinches of {spice} and a [little|good pinch of|scatter of] {spice}.",
        "[Bake|Roast|Cook] at {oven} degrees for {n_min} minutes, [or until|until] the {surface} is"
        " [golden|firm|bubbling|crisp].",
        "[Leave|Let] the {dish} [rest|cool|stand] for {n_small} minutes before [slicing|serving|cutting].",
        "[If you cannot find|Instead of|In place of] {ingredient}, [use|try|swap in] {ingredient}.",
        "My [grandmother|aunt|neighbour|friend] {first} [always|usually|never] [added|skipped|doubled] the"
        " {ingredient}, [and|but] I think it [works|tastes good] [either way|without|with it].",
        "[Serve|Plate it up] with {side} and [a little|plenty of|a spoonful of] {garnish}.",
        "[It keeps|Leftovers keep] in the [fridge|cold] for {n_small} days [and freezes|or can be frozen]"
        " for [up to|about] {n_small} months.",
        "You will need {measure} of {ingredient}, {measure} of {ingredient} and {n_small} {whole_item}.",
        "[Chop|Slice|Dice] the {ingredient} [finely|roughly|into chunks] and [set aside|keep to one side|"
        "add to the pan].",
        "[Pour in|Add] {measure} of {ingredient} and [bring to a simmer|let it bubble|reduce by half]"
        " for {n_small} minutes.",
        "[Taste|Check] the {surface} [and|then] [adjust|correct] the {spice} [if needed|to taste|as you"
        " like].",
        "[This version|My version|The {town} version] [uses|swaps in|leaves out] {ingredient} [because|"
        "since|as] {first} [dislikes|prefers|grows] it.",
        "[Grease|Line|Butter] a {n_mid} centimetre [tin|dish|tray] [and|then] [spread|spoon|press] in"
        " the {ingredient}.",
        "[Cost|The whole dish costs] [about|roughly|under] {money} [for|to feed] {n_small} [people|"
        "hungry adults|children].",
        "[A tip|One tip|A note] from {first}: [toast|warm|crush] the {spice} [first|beforehand|in a dry pan]"
        " for [more flavour|a deeper taste|extra warmth].",
    ],
    "sports": [
        "[Attendance|Gate receipts|Takings] [rose|fell|climbed] to {n_big} [after|despite|because of] the"
        " [cup run|bad weather|new stand].",
        "{team3} [sacked|appointed|lost] their [coach|manager|captain] on {day} [after|before|amid]"
        " [a poor run|the derby|rumours].",
        "[The|A] [penalty|free kick|drop goal] from {player2} in minute {minute} [sealed|settled|decided]"
        " [it|the game|matters].",
        "[Youth|Junior|Academy] [trials|sessions|camps] at {ground} [begin|start|run] [in|from|through]"
        " {month} for [ages|players aged] {n_small} to {n_mid}.",
        "[Referee|Umpire|Official] {person2} [showed|gave|handed out] {n_small} [yellow cards|warnings|"
        "penalties] [in|during] a [scrappy|tense|bad-tempered] [game|match].",
        "[Supporters|Fans] [travelled|drove|took coaches] {n_mid} miles to [watch|see|back] {team} at"
        " {town2}.",
        "{team} [are|sit|remain] {points} points [clear|behind|adrift] with {n_small} [games|fixtures] [left|"
        "to play].",
        "[Floodlights|The scoreboard|The clubhouse bar] at {ground} [failed|broke|closed] [during|before|"
        "after] the [match|game].",
        "[Boots|Kit|Shirts] [donated|given|sent] by a {town2} [firm|bakery|garage] [arrived|turned up] on"
        " {day}.",
        "{player} [signed|agreed|penned] a [new|one-year|two-year] [deal|contract] [on|after|before] {day}.",
        "{team} [beat|defeated|edged past|saw off] {team2} {score} at {ground} on {day}.",
        "[A crowd of|Some|Around] {n_big} [spectators|fans|supporters] [watched|saw|turned out for]"
        " the [match|game|fixture].",
        "{player} [opened the scoring|scored first|struck early] in minute {minute} [with a header|from a"
        " corner|after a long run|with a low shot].",
        "[Their|The] [captain|goalkeeper|striker|defender], {player2}, [was booked|was substituted|hit the"
        " post|made a fine save] [before half-time|in the second half|late on].",
        "[At half-time|By the break|At the interval] the [score|scoreline] [was|stood at] {score}.",
        "The result [leaves|puts|moves] {team} {ordinal} in the table with {points} points.",
        "[Coach|Manager] {person} said the [team|side|squad] had [worked hard|been lucky|played well|"
        "struggled with the wind] [and|but] [needed|would need] to [improve|tighten up|keep going].",
        "{team2} have now [lost|won|drawn] {n_small} of their last {n_mid} [games|matches|outings].",
        "In the [under-14|veterans|women's|reserve] [league|cup], {team} [won|lost] {score} [against|to]"
        " {team3}.",
        "{team} [scored|made|posted] {runs} runs [against|versus] {team2}, who [replied with|managed|"
        "finished on] {runs}.",
        "The next home [game|fixture|match] is against {team3} on {day} at {time_pm}.",
        "{player} was [named|voted] player of the [match|month|day] after [scoring twice|a strong display|"
        "keeping a clean sheet].",
        "[Rain|Wind|A waterlogged pitch] [delayed|interrupted|shortened] the [second half|start|last"
        " quarter] by {n_mid} minutes.",
        "[Tickets|Entry|Season passes] for the [cup tie|derby|final] [cost|are priced at|will be]"
        " {money} [at the gate|in advance|for adults].",
        "{player2} [limped off|went off injured|was carried off] [after|around] minute {minute} and"
        " [may|could|will probably] miss [the derby|next week|a month].",
        "[Bowls|Netball|Hockey|Rugby] [results|scores]: {team} {n_mid}, {team3} {n_mid}.",
        "[Over|Across] the [season|year|spring] {player} has [scored|netted|made] {n_mid} [goals|tries|"
        "assists] in {n_mid} [games|appearances].",
        "[Training|Practice] [moves|switches|returns] to {ground} on {day} [evenings|nights|mornings]"
        " from {month}.",
        "[Volunteers|Stewards|Groundstaff] at {ground} [cleared|rolled|marked] the pitch [before|after]"
        " [kick-off|the final whistle|dawn].",
    ],
}

_GENERIC: list[str] = [
    "[By the way|Incidentally|On a related note], {first} [says|thinks|reports] that {filler_clause}.",
    "[A correction|An update|A reminder]: {filler_clause}, [as|so|and] {person2} [noted|confirmed|said].",
    "[Photos|Pictures|Notes] from {day} [are|can be] [pinned up|posted|left] [at|in|by] the {town} [library|"
    "post office|hall].",
    "[Last|This] {month}, {filler_clause}, [which|and this] [surprised|pleased|annoyed] [many|some|few].",
    "[Write|Send word|Get in touch] to {person2} [if|when] [you spot|you hear of|anyone reports] [an error|"
    "a mistake|news].",
    "[Spare|Extra|Printed] copies [cost|are] {money} [from|at] the {town} [shop|kiosk|office].",
    "[Word|News|Talk] [around|in|about] {town} is that {filler_clause}.",
    "[In other news|Separately|Meanwhile|Elsewhere], {person} [said|mentioned|added] that {filler_clause}.",
    "[Readers|Listeners|Members] [may|might] [recall|remember] that {filler_clause} [last|in] {month}.",
    "[More details|Further information|Updates] will [follow|be posted|be shared] [next week|soon|on {day}].",
    "[Thanks|Many thanks] to {first} {surname} [for|who sent] [the notes|the photos|these figures].",
    "[As ever|As always|Once again], [questions|comments|corrections] [can|may] be [sent|passed] to"
    " {first} at the {town} office.",
]

_COMPILED: dict[str, tuple[tuple[_Part, ...], ...]] = {
    topic: tuple(_compile(t) for t in templates) for topic, templates in _TEMPLATES.items()
}
_COMPILED_GENERIC = tuple(_compile(t) for t in _GENERIC)
TOPICS = tuple(_TEMPLATES)

_TEAM_SUFFIX = _split("Rovers, United, Athletic, Wanderers, Harriers, Town, Albion, Rangers, Corinthians")
_BOAT_A = _split(
    "Morning, Silver, Patient, Bonny, Restless, Little, Northern, Golden, Faithful, Grey, Merry, Steady"
)
_BOAT_B = _split("Gull, Kestrel, Hope, Endeavour, Maid, Harvest, Star, Tern, Venture, Rose, Otter, Petrel")
_HEADLAND = _split("Point, Head, Ness, Bill, Nab")
_DISH_A = _split(
    "smoky, lemony, spiced, creamy, rustic, quick, slow-cooked, golden, herby, peppery, baked, summer"
)
_DISH_B = _split(
    "lentil stew, barley bake, leek tart, bean pot, fish pie, apple crumble, potato cakes, onion soup,"
    "chickpea curry, mushroom risotto, oat biscuits, chicken traybake, cheese scones, rice pudding"
)
_PRODUCT = _split(
    "kettle, desk lamp, rain jacket, blender, cordless drill, hiking boots, bike light, coffee grinder,"
    "backpack, toothbrush, bread maker, headphones, air fryer, tent, garden hose, steam iron, robot vacuum"
)


def _aliases(rng: Random) -> tuple[str, ...]:
    first, surname = rng.choice(_FIRST), rng.choice(_SURNAMES)
    return (f"{first} {surname}", f"{first} {surname}", first, surname)


def _context(topic: str, rng: Random) -> _CtxDict:
    town, town2, town3 = rng.sample(_TOWNS, 3)
    first, surname = rng.choice(_FIRST), rng.choice(_SURNAMES)
    ctx: _CtxDict = {
        "town": town,
        "town2": town2,
        "person": (f"{first} {surname}", f"{first} {surname}", first, surname),
        "surname_p": surname,
        "person2": _aliases(rng),
    }
    if topic == "review":
        maker = rng.choice(_LISTS["brand"])
        ctx["maker"] = maker
        model, noun = f"{rng.choice('KLMRTVXZ')}{rng.randint(2, 990)}", rng.choice(_PRODUCT)
        ctx["product"] = (f"{maker} {model} {noun}", f"{maker} {noun}", f"{model} {noun}", model, noun, noun)
    elif topic == "weather":
        ctx["valley"] = rng.choice(_TOWN_A) + rng.choice(("", " Water", "dale", " Brook"))
    elif topic == "harbour":
        ctx["boat"] = f"{rng.choice(_BOAT_A)} {rng.choice(_BOAT_B)}"
        ctx["boat2"] = f"{rng.choice(_BOAT_A)} {rng.choice(_BOAT_B)}"
        ctx["port"] = town2
        ctx["headland"] = f"{rng.choice(_TOWN_A)} {rng.choice(_HEADLAND)}"
    elif topic == "recipe":
        dish = rng.choice(_DISH_B)
        ctx["dish"] = (f"{rng.choice(_DISH_A)} {dish}", dish, dish.rsplit(" ", 1)[-1], "dish")
    elif topic == "sports":
        for key, place in (("team", town), ("team2", town2), ("team3", town3)):
            suffix = rng.choice(_TEAM_SUFFIX)
            ctx[key] = (f"{place} {suffix}", f"{place} {suffix}", place, suffix)
        park = rng.choice(_SURNAMES)
        ctx["ground"] = rng.choice(((f"{park} Park", park), (f"the {town} Road ground", f"{town} Road")))
        ctx["player"] = _aliases(rng)
        ctx["player2"] = _aliases(rng)
    return ctx


def _original(topic: str, rng: Random) -> tuple[str, _CtxDict]:
    """One prose document of 80-600 words in 2-8 paragraphs, and its context."""
    ctx = _context(topic, rng)
    templates = _COMPILED[topic]
    target = int(math.exp(rng.uniform(math.log(90), math.log(560))))
    order: list[int] = []
    sentences: list[str] = []
    words = 0
    generic: list[int] = []
    while words < target:
        if not order:
            order = list(range(len(templates)))
            rng.shuffle(order)
        if not generic:
            generic = list(range(len(_COMPILED_GENERIC)))
            rng.shuffle(generic)
        if rng.random() < 0.15:
            sentence = _render(_COMPILED_GENERIC[generic.pop()], ctx, rng)
        else:
            sentence = _render(templates[order.pop()], ctx, rng)
        n = sentence.count(" ") + 1
        if words + n > 600:
            break
        sentences.append(sentence)
        words += n
    n_par = min(rng.randint(2, 8), max(2, len(sentences) // 2))
    cuts = sorted(rng.sample(range(1, len(sentences)), n_par - 1))
    bounds = [0, *cuts, len(sentences)]
    text = "\n\n".join(" ".join(sentences[a:b]) for a, b in itertools.pairwise(bounds))
    return text, ctx


# --------------------------------------------------------------------------------------------
# Duplicates.

_WORD_RE = re.compile(r"\W+")
_FILLER = _split(
    "quite, really, also, often, rather, new, old, small, local, early, later, very, still, just, nearly,"
    "again, usual, whole, fairly, simply, recent, other, second, plain, short, long"
)
_BOILERPLATE = tuple(
    _compile(t)
    for t in (
        "Share this [page|story|post]: {site} | Print | Email",
        "Posted by {person} on {day} {ordinal} {month}. {n_small} comments.",
        "Subscribe to the {site} newsletter for [weekly|daily] updates.",
        "This page was last [updated|edited|checked] on {day} {ordinal} {month} at {time}.",
        "[Advertisement|Sponsored] - [Visit|Try] {site} [today|this week] and [save|get] {pct} percent.",
        "[Tags|Filed under]: {town}, {month}, [news|notes|archive]",
        "Back to [top|index|contents] | Next [story|page] | Previous [story|page]",
    )
)


def word_shingles(text: str, n: int = 5) -> set[str]:
    """Lowercased word n-grams (split on ``\\W+``) joined by single spaces."""
    words = [w for w in _WORD_RE.split(text.lower()) if w]
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _exact_variant(text: str, rng: Random) -> str:
    """Byte-identical copy, or one differing only in case and whitespace."""
    if rng.random() < 0.5:
        return text
    out = text
    case = rng.randrange(4)
    if case == 0:
        out = out.upper()
    elif case == 1:
        out = out.lower()
    elif case == 2:
        out = "\n\n".join(p.title() if rng.random() < 0.5 else p for p in out.split("\n\n"))
    if rng.random() < 0.6:
        words = out.split(" ")
        seps = ["  " if rng.random() < 0.05 else " " for _ in words[1:]]
        out = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
    if rng.random() < 0.5:
        out = out.replace("\n", "\r\n")
    if rng.random() < 0.3:
        out = out.replace("\n\n", "\n \t\n")
    out = " " * rng.randint(0, 3) + out + rng.choice(("", " ", "\n", "  \n", "\t"))
    if out == text:
        out += "\n"
    return out


def _edit_words(paras: list[list[str]], k: int, rng: Random) -> None:
    """Apply ``k`` random word replacements, insertions, deletions or typos in place."""
    for _ in range(k):
        para = paras[rng.randrange(len(paras))]
        i = rng.randrange(len(para))
        word = para[i]
        core = word.rstrip(".,!?;:")
        tail = word[len(core) :]
        op = rng.random()
        if op < 0.4 or not core:
            new = rng.choice(_FILLER)
            if core[:1].isupper():
                new = new.capitalize()
            para[i] = new + tail
        elif op < 0.55 and len(core) > 3:
            j = rng.randrange(len(core) - 1)
            para[i] = core[:j] + core[j + 1] + core[j] + core[j + 2 :] + tail
        elif op < 0.8 or len(para) < 4:
            para.insert(i, rng.choice(_FILLER))
        else:
            del para[i]
            if tail and i > 0:
                para[i - 1] = para[i - 1].rstrip(".,!?;:") + tail


def _near_duplicate(text: str, ctx: _CtxDict, rng: Random) -> tuple[str, float]:
    """Edited copy with word-5-gram Jaccard to ``text`` in about 0.75-0.95."""
    base = word_shingles(text)
    best: tuple[str, float] | None = None
    for _ in range(8):
        target = rng.uniform(0.77, 0.93)
        paras = [p.split(" ") for p in text.split("\n\n")]
        if rng.random() < 0.4:
            line = _render(rng.choice(_BOILERPLATE), ctx, rng).split(" ")
            if rng.random() < 0.5:
                paras.insert(0, line)
            else:
                paras.append(line)
        out = "\n\n".join(" ".join(p) for p in paras)
        sim = jaccard(base, word_shingles(out))
        for _ in range(12):
            if sim <= target + 0.015:
                break
            shingles = word_shingles(out)
            inter = len(base & shingles)
            union = len(base | shingles)
            k = max(1, math.ceil((inter - target * union) / (5 * (1 + target))))
            _edit_words(paras, k, rng)
            out = "\n\n".join(" ".join(p) for p in paras)
            sim = jaccard(base, word_shingles(out))
        if 0.75 <= sim <= 0.95:
            return out, sim
        if best is None or abs(sim - 0.85) < abs(best[1] - 0.85):
            best = (out, sim)
    assert best is not None
    return best


# --------------------------------------------------------------------------------------------
# Junk.

_NAV_ITEMS = _split(
    "Home, About, Contact, Shop, Blog, News, Events, Login, Register, Basket (0), FAQ, Help, Careers,"
    "Gallery, Archive, Search, Menu, Sitemap, Privacy, Terms, Cookies, Accessibility, Press"
)
_SPAM_WORDS = _split(
    "cheap, best, buy, discount, free, top, deals, online, sale, offer, near me, today, official, review"
)
_FOREIGN_SYL = _split(
    "ka, lo, mi, ra, tes, vu, nor, el, sha, dri, que, ba, ov, ilm, sø, kä, lé, ñu, tor, vi, ash, um, rel,"
    "zu, ohn, pa, kri, len, dau, mé, rö, sil, ek, val, tsu, gé, haun, ri"
)
_FOREIGN_FUNC = _split("ta, en, vo, li, sä, ot, mu, ka, dé, il, run, på")


def _junk_char_soup(rng: Random) -> str:
    alphabet = string.ascii_letters + string.digits + string.punctuation + "      \n" + "\u00a4\u00b6\ufffd"
    return "".join(rng.choices(alphabet, k=rng.randint(120, 1500)))


def _junk_repeated_line(rng: Random) -> str:
    line = rng.choice(
        (
            f"Click here to claim your free {rng.choice(_PRODUCT)} today!",
            f"Buy now and save {rng.randrange(10, 90, 5)} percent on every {rng.choice(_PRODUCT)}!",
            f"Welcome to {rng.choice(_LISTS['site'])} - the home of {rng.choice(_PRODUCT)} bargains.",
            f"Error {rng.randint(400, 599)}: the requested page could not be loaded.",
            "Please enable scripts in your browser to view this content.",
        )
    )
    return "\n".join([line] * rng.randint(20, 80))


def _junk_navigation(rng: Random) -> str:
    site = rng.choice(_LISTS["site"])
    lines = []
    for _ in range(rng.randint(4, 14)):
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(" | ".join(rng.sample(_NAV_ITEMS, rng.randint(3, 8))))
        elif kind == 1:
            lines.append(" > ".join(["Home", *rng.sample(_NAV_ITEMS, rng.randint(1, 3))]))
        elif kind == 2:
            lines.append(f"Copyright {rng.randint(2003, 2024)} {site}. All rights reserved.")
        else:
            lines.append(
                rng.choice(
                    (
                        "Skip to content",
                        "Menu",
                        "Log in",
                        "Sign up for our newsletter",
                        "Follow us",
                        "Accept cookies",
                        "Back to top",
                        "Show more",
                    )
                )
            )
    return "\n".join(lines)


def _junk_numbers(rng: Random) -> str:
    kind = rng.randrange(3)
    n = rng.randint(30, 300)
    if kind == 0:
        return ", ".join(str(rng.randint(0, 99999)) for _ in range(n))
    if kind == 1:
        return "\n".join(f"{i} {rng.uniform(0, 500):.2f} {rng.randint(0, 9)}" for i in range(1, n // 3 + 2))
    return " ".join(f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}" for _ in range(n // 2))


def _junk_short(rng: Random) -> str:
    return rng.choice(
        (
            "Read more",
            f"Page {rng.randint(1, 9)} of {rng.randint(10, 40)}",
            "Loading...",
            "Thanks for reading!",
            f"{rng.choice(_TOWNS)} council minutes",
            f"See you on {rng.choice(_DAYS)}.",
            "Comments are closed.",
            f"Posted in {rng.choice(_MONTHS)} {rng.randint(2005, 2024)}",
            "No results found.",
            f"{rng.choice(_PRODUCT).capitalize()} - out of stock",
        )
    )


def _junk_spam(rng: Random) -> str:
    item, place = rng.choice(_PRODUCT), rng.choice(_TOWNS)
    keys = [f"{w} {item}" for w in rng.sample(_SPAM_WORDS, 4)] + [f"{item} {place}", f"{place} {item} shop"]
    out = [rng.choice(keys) for _ in range(rng.randint(25, 120))]
    return rng.choice((" ", ", ", " | ")).join(out)


def _foreign_word(rng: Random) -> str:
    return "".join(rng.choice(_FOREIGN_SYL) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4))))


def _junk_foreign(rng: Random) -> str:
    lexicon = [_foreign_word(rng) for _ in range(rng.randint(50, 120))]
    n_lex = len(lexicon)
    paras = []
    for _ in range(rng.randint(2, 5)):
        sents = []
        for _ in range(rng.randint(2, 6)):
            ws = [
                rng.choice(_FOREIGN_FUNC) if rng.random() < 0.3 else lexicon[int(n_lex * rng.random() ** 2)]
                for _ in range(rng.randint(5, 16))
            ]
            sents.append(" ".join(ws).capitalize() + rng.choice((".", ".", ".", "?", "!")))
        paras.append(" ".join(sents))
    return "\n\n".join(paras)


_JUNK: dict[str, tuple[float, Callable[[Random], str]]] = {
    "char_soup": (1.0, _junk_char_soup),
    "repeated_line": (1.0, _junk_repeated_line),
    "navigation": (1.0, _junk_navigation),
    "number_list": (0.9, _junk_numbers),
    "short_fragment": (1.0, _junk_short),
    "keyword_spam": (0.9, _junk_spam),
    "pseudo_foreign": (0.5, _junk_foreign),
}


# --------------------------------------------------------------------------------------------
# Writer.


@dataclass(frozen=True)
class DemoCorpus:
    """Where the demo corpus went and what it holds."""

    path: Path
    n_records: int
    counts: dict[str, int]


def _kind_counts(n_docs: int) -> dict[str, int]:
    exact, near, junk = round(0.08 * n_docs), round(0.08 * n_docs), round(0.09 * n_docs)
    return {
        "original": n_docs - exact - near - junk,
        "exact_duplicate": exact,
        "near_duplicate": near,
        "junk": junk,
        "bad_record": 4,
    }


def write_demo_corpus(path: Path, n_docs: int = 3000, seed: int = 0) -> DemoCorpus:
    """Write ``n_docs`` good documents plus 4 bad records as JSON Lines (gzip if ``.gz``)."""
    if n_docs < 0:
        raise ValueError("n_docs must be >= 0")
    path = Path(path)
    rng = Random(seed)
    counts = _kind_counts(n_docs)

    # (sort key, creation index, text, kind, original index or -1, jaccard, topic)
    items: list[tuple[float, int, str, str, int, float | None, str]] = []
    contexts: list[_CtxDict] = []
    for i in range(counts["original"]):
        topic = TOPICS[i % len(TOPICS)] if i < len(TOPICS) else rng.choice(TOPICS)
        text, ctx = _original(topic, rng)
        items.append((rng.random(), len(items), text, "original", -1, None, topic))
        contexts.append(ctx)
    n_orig = len(items)
    for _ in range(counts["exact_duplicate"]):
        j = rng.randrange(n_orig)
        key, _, text, _, _, _, topic = items[j]
        new_key = key + (1.0 - key) * rng.random()
        items.append((new_key, len(items), _exact_variant(text, rng), "exact_duplicate", j, 1.0, topic))
    for _ in range(counts["near_duplicate"]):
        j = rng.randrange(n_orig)
        key, _, text, _, _, _, topic = items[j]
        new_key = key + (1.0 - key) * rng.random()
        near, sim = _near_duplicate(text, contexts[j], rng)
        items.append((new_key, len(items), near, "near_duplicate", j, sim, topic))
    names = list(_JUNK)
    weights = [_JUNK[k][0] for k in names]
    for i in range(counts["junk"]):
        name = names[i] if i < len(names) else rng.choices(names, weights)[0]
        items.append((rng.random(), len(items), _JUNK[name][1](rng), "junk", -1, None, name))

    items.sort(key=lambda it: (it[0], it[1]))
    n_records = len(items) + 4
    bad_slots = sorted(rng.sample(range(n_records), 4))
    width = max(6, len(str(n_records)))
    position = {it[1]: pos for pos, it in enumerate(items)}
    # final line number of each item, accounting for the bad records slotted in between
    line_of: list[int] = []
    b = 0
    for pos in range(len(items)):
        while b < 4 and bad_slots[b] <= pos + b:
            b += 1
        line_of.append(pos + b)

    def ident(line: int) -> str:
        return f"demo-{line + 1:0{width}d}"

    bad_lines = {
        bad_slots[0]: f'{{"id": "{ident(bad_slots[0])}", "text": "This record was cut off, "kind": ',
        bad_slots[1]: _dumps(ident(bad_slots[1]), None, "bad_record", None, None, "null_text"),
        bad_slots[2]: _dumps(ident(bad_slots[2]), 4217, "bad_record", None, None, "numeric_text"),
        bad_slots[3]: _dumps(ident(bad_slots[3]), " \n\t  \r\n ", "bad_record", None, None, "blank_text"),
    }
    lines: list[str] = [""] * n_records
    for line, text in bad_lines.items():
        lines[line] = text
    for pos, (_, _, text, kind, orig, sim, topic) in enumerate(items):
        dup_of = ident(line_of[position[orig]]) if orig >= 0 else None
        lines[line_of[pos]] = _dumps(ident(line_of[pos]), text, kind, dup_of, sim, topic)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        out: BinaryIO = raw
        if path.name.endswith(".gz"):
            # no file name and mtime=0 in the header, so the bytes depend on the seed only
            out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=4)
        for start in range(0, n_records, 2000):
            out.write(("\n".join(lines[start : start + 2000]) + "\n").encode("utf-8"))
        if out is not raw:
            out.close()
    return DemoCorpus(path=path, n_records=n_records, counts=counts)


def _dumps(ident: str, text: object, kind: str, dup_of: str | None, sim: float | None, topic: str) -> str:
    record = {"id": ident, "text": text, "kind": kind, "duplicate_of": dup_of, "jaccard": sim, "topic": topic}
    return json.dumps(record, ensure_ascii=False)
