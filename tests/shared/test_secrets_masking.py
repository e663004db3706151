"""Secrets in templates: lazy resolution, masking, and the static list of secrets a flow reads."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.expressions import (
    ExpressionError,
    SecretMasker,
    SecretsNamespace,
    UnknownSecretError,
    find_secret_refs,
    render,
)

VAULT = {"db_password": "s3cr3t-Pa55", "api_token": "tok_ABCDEF123456", "short": "ab"}


class CountingResolver:
    def __init__(self, vault: dict[str, str]) -> None:
        self.vault = vault
        self.asked: list[str] = []

    def __call__(self, name: str) -> str | None:
        self.asked.append(name)
        return self.vault.get(name)


def make_namespace() -> tuple[SecretsNamespace, SecretMasker, CountingResolver]:
    masker = SecretMasker()
    resolver = CountingResolver(VAULT)
    return SecretsNamespace(resolver, masker), masker, resolver


# --- SecretMasker ----------------------------------------------------------------------------


def test_mask_text_replaces_every_occurrence_of_every_secret() -> None:
    masker = SecretMasker()
    masker.add("hunter2")
    masker.add("swordfish")
    assert masker.mask_text("hunter2 / swordfish / hunter2!") == "*** / *** / ***!"
    assert masker.mask_text("nothing here") == "nothing here"


def test_the_longest_secret_is_masked_whole() -> None:
    masker = SecretMasker()
    masker.add("abc")
    masker.add("abcdef")
    assert masker.mask_text("x abcdef y abc") == "x *** y ***"


def test_short_secrets_are_masked_and_empty_ones_ignored() -> None:
    masker = SecretMasker()
    masker.add("")
    assert masker.mask_text("text") == "text"
    masker.add("7")
    assert masker.mask_text("a7b") == "a***b"


def test_secrets_are_masked_in_their_json_and_url_forms() -> None:
    masker = SecretMasker()
    masker.add('p"a ss/w\\rd')
    assert masker.mask_text('{"password": "p\\"a ss/w\\\\rd"}') == '{"password": "***"}'
    assert masker.mask_text("https://h/?pw=p%22a%20ss%2Fw%5Crd") == "https://h/?pw=***"
    assert masker.mask_text("pw=p%22a+ss%2Fw%5Crd") == "pw=***"


def test_mask_returns_the_same_object_while_no_secret_is_known() -> None:
    event = {"message": "hello", "items": [1, "x"]}
    assert SecretMasker().mask(event) is event


def test_mask_copies_nested_data_with_keys_and_values_masked() -> None:
    masker = SecretMasker()
    masker.add("hunter2")
    event = {"message": "pw is hunter2", "hunter2": ["hunter2", 3, None, ("a hunter2",)], "n": 1.5}
    assert masker.mask(event) == {"message": "pw is ***", "***": ["***", 3, None, ("a ***",)], "n": 1.5}
    assert event["message"] == "pw is hunter2"


def test_the_masker_never_shows_its_secrets() -> None:
    masker = SecretMasker()
    masker.add("hunter2")
    assert "hunter2" not in repr(masker)


@given(
    secrets=st.lists(st.text(alphabet="abcxyz01 -", min_size=1, max_size=6), max_size=4),
    text=st.text(alphabet="abcxyz01 -", max_size=60),
)
def test_masked_text_contains_no_secret(secrets: list[str], text: str) -> None:
    masker = SecretMasker()
    for secret in secrets:
        masker.add(secret)
        text = f"{text}{secret}"
    masked = masker.mask_text(text)
    for secret in secrets:
        assert secret not in masked


# --- SecretsNamespace ------------------------------------------------------------------------


def test_lookup_resolves_lazily_and_registers_the_value_for_masking() -> None:
    secrets, masker, resolver = make_namespace()
    assert resolver.asked == []
    assert masker.mask_text("s3cr3t-Pa55") == "s3cr3t-Pa55"
    assert secrets["db_password"] == "s3cr3t-Pa55"
    assert masker.mask_text("login with s3cr3t-Pa55") == "login with ***"
    assert secrets["db_password"] == "s3cr3t-Pa55"
    assert resolver.asked == ["db_password"]


def test_an_unknown_secret_is_an_undefined_expression_error_and_a_key_error() -> None:
    secrets, _, _ = make_namespace()
    with pytest.raises(UnknownSecretError) as caught:
        secrets["nope"]
    error = caught.value
    assert isinstance(error, ExpressionError)
    assert isinstance(error, KeyError)
    assert (error.kind, error.message, str(error)) == (
        "undefined",
        "unknown secret 'nope'",
        "unknown secret 'nope'",
    )
    assert "nope" not in secrets
    assert secrets.get("nope") is None
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message) == (UnknownSecretError, "unknown secret 'nope'")


def test_the_namespace_cannot_be_listed() -> None:
    secrets, _, resolver = make_namespace()
    secrets["api_token"]
    assert list(secrets) == []
    assert len(secrets) == 0
    assert dict(secrets.items()) == {}
    assert "tok_" not in repr(secrets)
    assert resolver.asked == ["api_token"]


# --- secrets in templates --------------------------------------------------------------------


def test_templates_read_secrets_and_the_values_become_masked() -> None:
    secrets, masker, resolver = make_namespace()
    scope = {"secrets": secrets}
    params = {
        "user": "admin",
        "password": "{{ secrets.db_password }}",
        "auth": "Bearer {{ secrets['api_token'] }}",
    }
    rendered = render(params, scope)
    assert rendered == {"user": "admin", "password": "s3cr3t-Pa55", "auth": "Bearer tok_ABCDEF123456"}
    assert masker.mask(rendered) == {"user": "admin", "password": "***", "auth": "Bearer ***"}
    assert set(resolver.asked) == {"db_password", "api_token"}


def test_an_unknown_secret_in_a_template_names_the_secret() -> None:
    secrets, _, _ = make_namespace()
    for template in ("{{ secrets.nope }}", "x {{ secrets['nope'] }}"):
        with pytest.raises(ExpressionError) as caught:
            render(template, {"secrets": secrets})
        assert (caught.value.kind, caught.value.message) == ("undefined", "unknown secret 'nope'")
    assert render("{{ secrets.nope is defined }}", {"secrets": secrets}) is False
    assert render("{{ secrets.nope | default('none') }}", {"secrets": secrets}) == "none"


@pytest.mark.parametrize(
    "template",
    [
        "{{ secrets.db_password | to_int }}",
        "{{ secrets.db_password | from_json }}",
        "{{ (secrets.db_password ~ '!') | to_bool }}",
        "{{ secrets.db_password | to_date }}",
    ],
)
def test_error_messages_never_contain_secret_values(template: str) -> None:
    secrets, _, _ = make_namespace()
    with pytest.raises(ExpressionError) as caught:
        render(template, {"secrets": secrets})
    assert "s3cr3t-Pa55" not in caught.value.message
    assert "s3cr3t-Pa55" not in str(caught.value)
    assert "***" in caught.value.message
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "template",
    [
        "{{ secrets }}",
        "x {{ secrets }}",
        "{{ secrets | list }}",
        "{{ secrets.items() | list }}",
        "{{ secrets | length }}",
    ],
)
def test_templates_cannot_dump_the_vault(template: str) -> None:
    secrets, _, resolver = make_namespace()
    result = render(template, {"secrets": secrets})
    for value in VAULT.values():
        assert value not in str(result)
    assert not set(resolver.asked) & set(VAULT)


# --- find_secret_refs ------------------------------------------------------------------------


def test_find_secret_refs_lists_the_secrets_a_value_reads() -> None:
    flow: dict[str, Any] = {
        "nodes": [
            {"params": {"password": "{{ secrets.db_password }}", "user": "{{ inputs.user }}"}},
            {"params": {"headers": {"Authorization": "Bearer {{ secrets['api_token'] }}"}}},
            {"params": {"lines": ["{% for row in inputs.rows %}{{ secrets.get('smtp') }}{% endfor %}"]}},
            {"params": {"other": "{{ inputs.secrets.not_a_secret }}", "plain": "secrets.literal"}},
            {"params": {"broken": "{{ secrets.broken "}},
        ],
        "{{ secrets.in_a_key }}": "keys are not templates",
    }
    assert find_secret_refs(flow) == {"db_password", "api_token", "smtp"}


def test_find_secret_refs_is_empty_without_secrets() -> None:
    assert find_secret_refs({"a": "{{ inputs.x }}", "b": [1, "text"]}) == set()


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True))
def test_find_secret_refs_finds_any_secret_name(name: str) -> None:
    assert find_secret_refs([f"{{{{ secrets.{name} }}}}"]) == {name}
    assert find_secret_refs([f"x {{{{ secrets['{name}'] }}}}"]) == {name}


def test_common_transformations_of_a_secret_are_masked_too() -> None:
    import base64

    masker = SecretMasker()
    secret = "Tr0ub4dor-and-3-horses"
    masker.add(secret)
    forms = [
        secret.upper(),
        secret.lower(),
        secret.title(),
        secret.swapcase(),
        secret[::-1],
        secret[:6],
        secret[:13],
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(secret.encode()).decode()[:-2],
        base64.urlsafe_b64encode(secret.encode()).decode(),
    ]
    for form in forms:
        assert masker.mask_text(f"<{form}>") == "<***>", form
    masker.add(" padded secret\t")
    assert masker.mask_text("[paddedsecret] [padded secret]") == "[***] [***]"
    # A cut shorter than the minimum prefix is not masked (it would hide ordinary text).
    assert masker.mask_text(f"<{secret[:5]}>") == f"<{secret[:5]}>"


def test_a_long_secret_is_masked_from_any_long_enough_prefix() -> None:
    masker = SecretMasker()
    secret = "k" * 5 + "".join(chr(ord("a") + i % 26) for i in range(1000))
    masker.add(secret)
    assert masker.mask_text(secret[:200] + " end") == "*** end"
    assert masker.mask_text(secret) == "***"


def test_a_cut_ends_its_word_so_a_value_sharing_a_prefix_is_not_cut_into() -> None:
    masker = SecretMasker()
    masker.add("rpa_ak_0123456789abcdef_Zx9Zx9")
    assert masker.mask_text("key rpa_ak_0123 end") == "key *** end"
    # Another agent key shares the first characters: it is left whole for the shape patterns.
    assert masker.mask_text("key rpa_ak_fedcba9876543210_Qw7 end") == "key rpa_ak_fedcba9876543210_Qw7 end"
    assert masker.mask_text("key rpa_ak_01xyz end") == "key rpa_ak_01xyz end"
