"""The form speaks the portal's words, not Django's validator text (issue #15 item 6).

The price box and the field errors show these messages; each names the rule the member has to
meet (docs/providers/apixo.md "Parameters").
"""

import pytest

from generations.forms import GenerationForm
from generations.forms.generation import DURATION_MESSAGE, SEED_MESSAGE

VALID = {
    "mode": "text-to-video",
    "prompt": "a calm seaside sunrise with gentle camera dolly movement",
    "resolution": "720p",
    "duration": "8",
    "sound": "off",
    "aspect_ratio": "16:9",
}
EXTEND = {
    "mode": "video-extend",
    "prompt": "the camera keeps rising over the bay",
    "resolution": "720p",
    "duration": "5",
    "sound": "off",
    "source_video_url": "https://93.184.216.34/clip.mp4",
}
# Django's own wording, which must never reach the member.
DJANGO_WORDS = ("Ensure this value", "Select a valid choice", "This field is required", "Enter a")


def errors(base=VALID, **changes):
    data = {k: v for k, v in {**base, **changes}.items() if v is not None}
    form = GenerationForm(data=data)
    form.is_valid()
    return form.errors


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"duration": "3"}, "duration", DURATION_MESSAGE),
        ({"duration": "13"}, "duration", DURATION_MESSAGE),
        ({"duration": "six"}, "duration", DURATION_MESSAGE),
        ({"duration": "4.5"}, "duration", DURATION_MESSAGE),
        ({"duration": None}, "duration", DURATION_MESSAGE),
        ({"resolution": "4k"}, "resolution", "Choose 480p, 720p or 1080p."),
        ({"resolution": None}, "resolution", "Choose a resolution."),
        ({"sound": "loud"}, "sound", "Choose sound on or off."),
        ({"sound": None}, "sound", "Choose sound on or off."),
        ({"mode": "slideshow"}, "mode", "Choose text-to-video, image-to-video or video-extend."),
        ({"mode": None}, "mode", "Choose a mode."),
        (
            {"prompt": None},
            "prompt",
            "Write a prompt: describe the scene, the motion and the sound.",
        ),
        (
            {"aspect_ratio": "2:1"},
            "aspect_ratio",
            "Choose one of the aspect ratios: 1:1, 3:4, 4:3, 9:16, 16:9, 21:9.",
        ),
        (
            {"mode": "image-to-video", "start_image_url": "not a url"},
            "start_image_url",
            "Give a full web address, such as https://example.com/frame.jpg.",
        ),
    ],
)
def test_field_errors_are_the_portals_words(changes, field, message):
    found = errors(**changes)
    assert found[field] == [message]
    assert not any(words in message for words in DJANGO_WORDS)


@pytest.mark.parametrize("seed", ["-1", "2147483648", "lucky"])
def test_a_bad_seed_is_explained(seed):
    assert errors(EXTEND, seed=seed)["seed"] == [SEED_MESSAGE]


def test_duration_message_names_the_documented_range():
    assert DURATION_MESSAGE == "Choose a whole number of seconds from 4 to 12."


def test_a_pasted_prompt_over_the_limit_is_refused_whole_not_cut():
    prompt = ("a misty harbour at dawn, " * 110)[:2612]
    found = errors(prompt=prompt)
    assert len(prompt.strip()) == 2612
    assert found["prompt"] == [
        "Keep the prompt within 2,500 characters; it has 2,612. Nothing was cut."
    ]
    # No maxlength on the field: the browser would cut a paste without a word.
    assert "maxlength" not in str(GenerationForm()["prompt"])
