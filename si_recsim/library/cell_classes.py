"""What a cell model's name says about the cell: excitatory or inhibitory, and whether ``physrot``
keeps it upright (MEArec's rules, by substrings of Blue Brain m-type names)."""

from __future__ import annotations


def cell_category(name: str, excitatory: list[str], inhibitory: list[str]) -> str:
    """``"E"``, ``"I"`` or ``"U"`` (unknown) for a cell model name.

    For Blue Brain style names (``L5_TTPC1_cADpyr232_1``) the excitatory substrings are looked for
    in the m-type token (``TTPC1``), elsewhere in the whole name; inhibitory substrings are looked
    for in the whole name.
    """
    tokens = name.split("_")
    is_bbp_style = len(tokens) >= 3 and tokens[0][:1] == "L" and tokens[0][1:].isdigit()
    mtype = tokens[1] if is_bbp_style else name
    if any(substring in mtype for substring in excitatory):
        return "E"
    if any(substring in name for substring in inhibitory):
        return "I"
    return "U"


#: m-type substrings of cell types kept upright by ``physrot`` (MEArec's table)
PHYSROT_CONSTRAINED = ("BP", "MC", "PC", "SS", "SP")


def physrot_constrained(name: str) -> bool:
    """Whether ``physrot`` keeps a cell model upright (its m-type matches MEArec's table)."""
    tokens = name.split("_")
    mtype = tokens[1] if len(tokens) >= 2 else name
    return any(substring in mtype for substring in PHYSROT_CONSTRAINED)
