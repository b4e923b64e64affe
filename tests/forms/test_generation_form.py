"""Validation matrix of the text-to-video form and the ``generate`` command.

Rules from docs/providers/apixo.md "Overview" and "Parameters": prompt 3-2500 characters after
trimming, resolution 480p/720p, integer duration 4-12, sound on/off required, six aspect ratios.
"""

import pytest
from django.core.management import CommandError, call_command

from generations.forms import GenerationForm
from generations.models import CreditEntry, Generation

VALID = {
    "mode": "text-to-video",
    "prompt": "a calm seaside sunrise with gentle camera dolly movement",
    "resolution": "720p",
    "duration": "8",
    "sound": "off",
    "aspect_ratio": "16:9",
}


def form_errors(**changes):
    data = {**VALID, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    form = GenerationForm(data=data)
    form.is_valid()
    return form.errors


def test_the_documented_example_is_valid():
    form = GenerationForm(data=VALID)
    assert form.is_valid(), form.errors
    spec = form.to_spec()
    assert (spec.duration, spec.sound, spec.camera_fixed) == (8, False, False)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt": "ab"}, "prompt", "at least 3 characters"),
        ({"prompt": "   ab   "}, "prompt", "at least 3 characters"),
        ({"prompt": ""}, "prompt", "Write a prompt"),
        ({"prompt": "   "}, "prompt", "Write a prompt"),
        ({"prompt": "x" * 2501}, "prompt", "within 2,500 characters; it has 2,501"),
        ({"duration": "3"}, "duration", "from 4 to 12"),
        ({"duration": "13"}, "duration", "from 4 to 12"),
        ({"duration": "8.5"}, "duration", "whole number"),
        ({"duration": "eight"}, "duration", "whole number"),
        ({"duration": None}, "duration", "whole number of seconds"),
        (
            {"resolution": "1080p", "provider": "apixo"},
            "resolution",
            "APIXO does not offer 1080p for text to video; choose 480p or 720p, or aivideoapi.ai.",
        ),
        ({"resolution": "4k"}, "resolution", "Choose 480p, 720p or 1080p."),
        ({"sound": None}, "sound", "Choose sound on or off."),
        ({"sound": "maybe"}, "sound", "Choose sound on or off."),
        ({"aspect_ratio": "2:1"}, "aspect_ratio", "Choose one of the aspect ratios"),
        ({"mode": "image-to-image"}, "mode", "Choose text-to-video, image-to-video"),
    ],
)
def test_each_wrong_value_gets_a_message_next_to_its_field(changes, field, message):
    errors = form_errors(**changes)
    assert field in errors, errors
    assert message in " ".join(errors[field])


@pytest.mark.parametrize("prompt", ["abc", "  abc  ", "x" * 2500, " " + "x" * 2500 + "\n"])
def test_prompt_bounds_count_after_trimming(prompt):
    form = GenerationForm(data={**VALID, "prompt": prompt})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["prompt"] == prompt.strip()


@pytest.mark.parametrize("duration", [4, 12])
@pytest.mark.parametrize("resolution", ["480p", "720p"])
@pytest.mark.parametrize("ratio", ["1:1", "3:4", "4:3", "9:16", "16:9", "21:9"])
def test_every_documented_value_is_accepted(duration, resolution, ratio):
    assert form_errors(duration=str(duration), resolution=resolution, aspect_ratio=ratio) == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "ab"], "--prompt: Write at least 3 characters"),
        (
            ["--prompt", "a fine prompt", "--duration", "13"],
            "--duration: Choose a whole number of seconds from 4 to 12.",
        ),
        (
            ["--prompt", "a fine prompt", "--resolution", "1080p", "--provider", "apixo"],
            "--resolution: APIXO does not offer 1080p",
        ),
        (
            ["--prompt", "a fine prompt", "--aspect-ratio", "5:4"],
            "--aspect-ratio: Choose one of the aspect ratios",
        ),
    ],
)
def test_generate_command_refuses_bad_input_with_exit_2(member, args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("generate", "--user", member.username, *args)
    assert excinfo.value.returncode == 2
    assert message in str(excinfo.value)
    assert Generation.objects.count() == 0
    assert CreditEntry.objects.count() == 0


@pytest.mark.django_db
def test_generate_command_refuses_a_short_balance_with_exit_2(member):
    with pytest.raises(CommandError, match="only 0 are available") as excinfo:
        call_command("generate", "--user", member.username, "--prompt", "a fine prompt")
    assert excinfo.value.returncode == 2
    assert Generation.objects.count() == 0
