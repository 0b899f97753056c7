"""The seed conversations, as scripts: the vendor's published streams (``seed/code-interpreter-doc.txt``).

The frames the page shows are copied exactly; the frames it elides ("...Thinking stage...") are
filled with plausible text whose token counts land on the published cumulative usage.
"""

from __future__ import annotations

from typing import Final

from ._script import (
    SEED_ANSWER,
    Answer,
    CodeSegment,
    Conversation,
    Delta,
    Reasoning,
    answer_deltas,
    reasoning_deltas,
    spread,
)

__all__ = ["SEED_NATIVE", "SEED_OPENAI", "TWO_RUN_NATIVE"]


# --- The seed, native protocol: 54 frames, request a1959ad1-... -------------------------------
#
# Frames 1, 2, 21, 22, 23, 24, 43, 44, 53 and 54 are shown by the vendor's page; the SDK printout
# on the same page gives every delta's text around them. Token counts of the elided frames are
# chosen so the cumulative usage passes exactly through the published numbers.

_SEED_REASONING_1 = Reasoning(
    (
        Delta("The", 3, 1),  # frame 1: the pass's first 2 output tokens are not reasoning
        *reasoning_deltas(
            (" user is asking", 3),  # frame 2
            (" me", 1),
            (" to calculate 123", 6),
            (" raised to the power", 4),
            (" of 21. This is", 7),
            (" a very large number", 4),
            (", so working it out", 5),
            (" by hand would be", 4),
            (" slow and error-prone.", 7),
            (" The code interpreter can", 4),
            (" compute it exactly, since", 5),
            (" Python integers have arbitrary", 5),
            (" precision, so", 3),
            (" I'll write a", 4),
            (" simple Python program to calculate", 5),  # frame 16: reasoning_tokens 68
        ),
        # Frames 17-21: the model writes its tool call; output grows, nothing is shown.
        *answer_deltas(("", 6), ("", 6), ("", 6), ("", 6), ("", 7)),
    )
)

_SEED_REASONING_2 = Reasoning(
    (
        Delta("The", 3, 1),  # frame 23, input_tokens now 734
        *reasoning_deltas(
            (" user", 1),
            (" asked", 1),
        ),
        Delta(" for 123 to the power", 9, 7),
        *reasoning_deltas(
            (" of 21, and I used", 7),
            (" Python to calculate it.", 5),
            (" The code returned", 3),
            (" 772693644665", 8),
            ("49865653073473", 8),
            ("388030061522211723", 9),
            (", which is the exact value.", 7),
            (" That is a very", 4),
            (" large number with 44", 5),
            (" digits, and since Python", 5),
            (" integers are exact,", 4),
            (" there is no rounding", 4),
            (" error to worry about.", 5),
            (" The result is confirmed, and", 6),
            (" I should present this result", 5),
            (" to the user in", 4),
            (" a clear format.", 4),  # frame 43: reasoning_tokens 171
        ),
    )
)

_SEED_ANSWER_DELTAS = Answer(
    answer_deltas(
        ("123 to the power of ", 5),  # frame 44
        ("21 is:\n\n", 6),
        ("772693", 6),
        ("644665", 6),
        ("498656", 6),
        ("530734", 6),
        ("733880", 6),
        ("300615", 6),
        ("222117", 6),
        ("23", 2),  # frame 53: output_tokens 263
    )
)

SEED_NATIVE: Final = Conversation(
    name="seed-123**21",
    input_tokens=287,
    segments=(
        _SEED_REASONING_1,
        CodeSegment(code="123**21", logs=SEED_ANSWER, input_tokens_after=734),
        _SEED_REASONING_2,
        _SEED_ANSWER_DELTAS,
    ),
    request_id="a1959ad1-2637-4672-a21f-4d351371d254",
    # Not in the seed (native frames carry neither); pinned so the Responses rendering is stable.
    created=1761899651,
)

# --- The seed, OpenAI-compatible protocol: another run of the same question ------------------
#
# The page's curl example shows the first three deltas and the last three of the answer; the
# Python printout on the same page gives the rest of the text. Its final usage is the printout's
# CompletionUsage (prompt 719, completion 245, reasoning 153). The recorded answer says "43 digits"
# (the number has 44); the emulator keeps the vendor's text as recorded.

SEED_OPENAI: Final = Conversation(
    name="seed-123**21-openai",
    input_tokens=287,
    segments=(
        Reasoning(
            spread(
                [
                    "The user",
                    " is asking",
                    " for",
                    " 123 to the power",
                    " of 21. This is",
                    " a math problem.",
                    " I need to calculate",
                    " 123^21.\n\n",
                    "I can use the",
                    " code calculator to compute",
                    " this value. I need",
                    " to call the code_interpreter",
                    " function and pass the",
                    " Python code to calculate",
                    " 123**21.\n\n",
                    "Let me construct this",
                    " function call.",
                ],
                68,
                reasoning=True,
            )
        ),
        CodeSegment(code="123**21", logs=SEED_ANSWER, input_tokens_after=719),
        Reasoning(
            spread(
                [
                    "The user asked",
                    " for 123 to the",
                    " power of 21, and",
                    " I used Python code",
                    " to calculate the result.",
                    " The calculation shows that",
                    " 123 to the power",
                    " of 21 equals",
                    " " + SEED_ANSWER + ".",
                    " This is a very",
                    " large number. I should",
                    " provide this directly",
                ],
                85,
                reasoning=True,
            )
        ),
        Answer(
            spread(
                [
                    "123 to the power of ",
                    "21 is:\n\n",
                    SEED_ANSWER,
                    "\n\nThis is ",
                    "a very large number, with a total",
                    " of 43 digits",
                    ".",
                ],
                92,
                reasoning=False,
            )
        ),
    ),
    request_id="5d0c6a4e-93a1-4a6e-8f0a-3c1f2b7d9e41",
    chat_id="chatcmpl-2f96ef0b-5924-4dfc-b768-4d53ec538b4e",
    created=1761899724,
)

# --- The seed's second example: two code runs, the second first seen as an empty placeholder --

_TWO_RUN_POWER = "1169008215014432917465348578887506800769541157267"
_TWO_RUN_QUOTIENT = "2.338016430028866e+47"

TWO_RUN_NATIVE: Final = Conversation(
    name="seed-123**23/5",
    input_tokens=295,
    segments=(
        Reasoning(
            spread(
                [
                    "The user wants",
                    " to run the code",
                    " interpreter twice:\n",
                    "1. First run:",
                    " Calculate 123 to the",
                    " power of 23\n",
                    "2. Second run:",
                    " Divide the result of",
                    " the first run by 5\n\n",
                    "I need to first",
                    " call the code interpreter",
                    " to calculate 123**23,",
                    " and then use this",
                    " result to call the",
                    " code interpreter again to",
                    " divide by 5.\n\n",
                    "Let me do the",
                    " first calculation.\n",
                ],
                78,
                reasoning=True,
            )
        ),
        CodeSegment(code="123**23", logs=_TWO_RUN_POWER, input_tokens_after=532),
        Reasoning(
            spread(
                [
                    "The first calculation",
                    " got the value of",
                    " 123 to the power",
                    " of 23: ",
                    _TWO_RUN_POWER,
                    "\n\nNow for the",
                    " second run, I need",
                    " to divide this result",
                    " by 5. I need",
                    " to use this exact",
                    " value for the division",
                ],
                112,
                reasoning=True,
            )
        ),
        CodeSegment(
            code=_TWO_RUN_POWER + " / 5",
            logs=_TWO_RUN_QUOTIENT,
            input_tokens_after=801,
            growth=(0, len(_TWO_RUN_POWER) + 4),
        ),
        Reasoning(
            spread(
                [
                    "The user requested",
                    " to run the code",
                    " interpreter twice:\n",
                    "1. First, calculate",
                    " 123 to the power",
                    " of 23, the result",
                    " is: ",
                    _TWO_RUN_POWER,
                    "\n2. Second, divide",
                    " this result by 5,",
                    " which gives: ",
                    _TWO_RUN_QUOTIENT,
                    "\n\nNow I need",
                    " to report these two",
                    " to the user",
                ],
                131,
                reasoning=True,
            )
        ),
        Answer(
            spread(
                [
                    "First run result:",
                    " 123 to the power",
                    " of 23 = ",
                    _TWO_RUN_POWER,
                    "\n\nSecond run result:",
                    " The above result divided",
                    " by 5 = ",
                    _TWO_RUN_QUOTIENT,
                ],
                121,
                reasoning=False,
            )
        ),
    ),
    request_id="0c5e2b7a-4f1d-4e8b-9a63-2d7f1e5c8b90",
    chat_id="chatcmpl-6a1f0d3e-2b4c-4e59-8d7a-0f3b9c2e1a57",
    created=1761900120,
)
