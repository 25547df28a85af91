"""A heal writes a key as a secret when ``genesis sync`` calls it secret, against real emulators.

The reference ``.env`` holds ``ADMIN_INITIAL=CANARYSummer2025`` (not secret by itself) and Render a
random-looking value for the same key, so sync fingerprints every value of it.  Creating it on
GitHub must make an Actions *secret*, not a variable anyone with read access sees in clear, and on
Netlify an ``is_secret`` variable.  ``[secrets] patterns`` count too, also for a value expanded from
a key they name.  An existing plain variable keeps its kind (GitHub cannot turn a variable into a
secret of the same name), and the plan warns that its value is stored in clear.
"""

from __future__ import annotations

import json

WORD = "CANARYSummer2025"
RANDOM_LOOKING = "Zq8xT3vLm9RwK2pYb7Nc"


def _drift(project, *, github_variable: bool = False) -> None:
    with (project.root / ".env").open("a", encoding="utf-8") as env:
        env.write(f"ADMIN_INITIAL={WORD}\nBOOT_WORD={WORD}\nSTART_ARGS=--word=${{BOOT_WORD}}\n")
    project.render.set_env(project.service_id, {**project.render.env(project.service_id),
                                                "ADMIN_INITIAL": RANDOM_LOOKING})
    if github_variable:
        project.github.set_variable(project.repository, "ADMIN_INITIAL", "first-admin")
    project.write_config(extra='[secrets]\npatterns = ["BOOT_*"]', platform_extra={"local": "expand = true"})


def _no_word(project, assert_no_canary) -> None:
    for text in project.outputs:
        assert WORD not in text
    for path in [p for p in project.home.rglob("*") if p.is_file()]:
        assert WORD.encode() not in path.read_bytes(), path
    assert WORD not in json.dumps(project.events(), default=repr)
    assert_no_canary(*project.outputs, project.events(), project.home)


def test_heal_creates_as_secrets_the_keys_sync_calls_secret(project, assert_no_canary) -> None:
    _drift(project)
    code, out, err = project.run("heal", "--json")
    assert code == 1, out + err
    github = {w["key"]: w for w in json.loads(out)["plan"]["targets"]["github"]["create"]}
    assert github["ADMIN_INITIAL"]["secret"] and github["START_ARGS"]["secret"] and github["BOOT_WORD"]["secret"]

    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    secrets = project.github.secrets(project.repository)
    assert secrets["ADMIN_INITIAL"] == WORD and secrets["BOOT_WORD"] == WORD
    assert secrets["START_ARGS"] == f"--word={WORD}"
    assert not {"ADMIN_INITIAL", "BOOT_WORD", "START_ARGS"} & set(project.github.variables(project.repository))
    for key in ("ADMIN_INITIAL", "BOOT_WORD", "START_ARGS"):
        assert project.netlify.is_secret(project.account_id, project.site_id, key), key
    assert project.render.env(project.service_id)["ADMIN_INITIAL"] == WORD  # Render has no secret kind

    code, out, err = project.run("sync")
    assert code == 0, out + err
    _no_word(project, assert_no_canary)


def test_an_existing_plain_variable_keeps_its_kind_and_the_plan_warns(project, assert_no_canary) -> None:
    _drift(project, github_variable=True)
    warning = ("warning: github ADMIN_INITIAL: secret by the sync rule, but a plain variable here: its value is "
               "readable in clear")
    code, out, err = project.run("heal")
    assert code == 1, out + err
    assert warning in out
    assert "warning: render" not in out  # Render keeps no secrets apart: there is nothing else to choose

    code, out, err = project.run("heal", "--json")
    [update] = json.loads(out)["plan"]["targets"]["github"]["update"]
    assert update["secret"] is False
    assert [note["kind"] for note in update["notes"]] == ["stored_in_clear"]

    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert warning in out
    assert project.github.variables(project.repository)["ADMIN_INITIAL"] == WORD  # still a variable
    assert "ADMIN_INITIAL" not in project.github.secrets(project.repository)
    _no_word(project, assert_no_canary)
