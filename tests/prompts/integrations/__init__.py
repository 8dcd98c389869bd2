"""The LangChain and LlamaIndex adapters, with the real framework classes, packaged models and a small corpus.

The corpus (made up for these tests): eight short documents about an island; the question's answer sits in
one sentence of the lighthouse document, next to other sentences about the lighthouse.
"""

from __future__ import annotations

CORPUS = {
    "lighthouse": (
        "The Harwick lighthouse stands on the northern cliffs and was first lit in 1862. "
        "Its tower is thirty-one metres tall and painted in red and white bands. "
        "The Harwick lighthouse switched to solar power in 1987, when the keepers retired the old diesel "
        "generator. "
        "Visitors may climb the spiral staircase on Saturday afternoons during the summer."
    ),
    "ferry": (
        "A small ferry connects Harwick to the mainland port three times a day. "
        "The crossing takes about forty minutes in calm weather and much longer in a westerly gale. "
        "Cars must be booked a week ahead, but foot passengers can simply buy a ticket on board."
    ),
    "bakery": (
        "The bakery on Quay Street opens at six in the morning, long before the ferry arrives. "
        "Its seaweed bread is baked in a wood-fired oven that the owner built from harbour stones. "
        "On Fridays the queue for cinnamon buns reaches the post office."
    ),
    "school": (
        "The island school has twenty-three pupils taught in two classrooms. "
        "Older children take the early ferry to the secondary school on the mainland. "
        "Every spring the pupils count the puffins on the western stacks for a national survey."
    ),
    "festival": (
        "Each August the harbour hosts a festival of boats, fiddle music and grilled mackerel. "
        "Crews race rowing gigs around the lighthouse rocks and back to the pier. "
        "The evening ends with a bonfire on the beach that can be seen from the mainland."
    ),
    "fishing": (
        "Lobster and crab are still caught from open boats in the bays to the south. "
        "The catch is packed in ice and sent across on the afternoon ferry. "
        "Fishing families mend their creels in the sheds behind the harbour during the winter storms."
    ),
    "birds": (
        "Gannets, guillemots and puffins nest on the cliffs from April until August. "
        "A hide near the old quarry lets birdwatchers see the nests without disturbing them. "
        "Rangers ask walkers to keep dogs on a lead along the cliff path in the nesting season."
    ),
    "museum": (
        "The island museum fills a former net loft beside the harbour. "
        "It keeps a lens from an early lamp, ship models and photographs of the herring fleet. "
        "Entry is free, and a volunteer tells the story of the shipwreck of 1911."
    ),
}
QUESTION = "When did the Harwick lighthouse switch to solar power?"
ANSWER = "switched to solar power in 1987"
#: retrieved documents per query, and the token budget for all of them together
TOP_K = 4
BUDGET = 100

#: adapter options that must fail when the adapter is made, and the error's words (a regex)
BAD_OPTIONS = [
    ({}, "give exactly one of rate and target_tokens"),
    ({"rate": 0.5, "target_tokens": 10}, "give exactly one of rate and target_tokens"),
    ({"rate": 1.5}, r"rate must be in \(0, 1\]"),
    ({"target_tokens": 0}, "target_tokens must be at least 1"),
    ({"target_tokens": 2.5}, "target_tokens must be a whole number of tokens, got 2.5"),
    ({"rate": 0.5, "reorder": "yes"}, "reorder must be true or false"),
    ({"rate": 0.5, "keep": "("}, "keep '\\(': bad regular expression"),
]
