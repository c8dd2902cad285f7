"""A validation verdict in words: which gating tests set it, what they mean, what can be done.

Works on the plain content of validation.json (lights as dicts, flat metrics), so the stage 04
report, the run's index page and the `creditmine run` summary say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creditmine.reports.tables import number, percent, pvalue

__all__ = ["TESTS", "TestText", "Verdict", "explain", "setting_tests", "test_title"]

_RANK = {"n/a": 1, "green": 0, "amber": 1, "red": 2}   # a gate nobody could check counts as amber


@dataclass(frozen=True)
class TestText:
    """What one test checks, what a bad light means, and what the developer can do about it."""

    title: str
    means: str
    remedy: str


TESTS: dict[str, TestText] = {
    "auc_oot": TestText(
        "Out-of-time AUC",
        "the PD ranks the loans that later defaulted too weakly above those that did not, on "
        "applications after the cut-off the model never saw",
        "add data with signal (sources, longer windows) or features and retrain; if it stays low, reject the model"),
    "auc_holdout": TestText(
        "In-time holdout AUC", "the PD ranks defaults weakly even on applications from the development period",
        "revisit features and the binning or boosting settings and retrain"),
    "auc_drop": TestText(
        "AUC drop, development to out of time",
        "the ranking power falls between the development holdout and the out-of-time applications: "
        "the model fits its development period better than today's applicants",
        "retrain on more recent applications, or with fewer, more stable features (see the CSI table)"),
    "ks_oot": TestText("Out-of-time KS", "the score separates defaults and non-defaults weakly out of time",
                       "add data or features with signal and retrain"),
    "challenger_auc_gap": TestText(
        "Challenger AUC gap", "the challenger ranks better than the primary model out of time",
        "consider making the challenger primary (params models.primary) after checking its explanations"),
    "calibration_pvalue": TestText(
        "Portfolio calibration (binomial test)",
        "more loans defaulted out of time than the PDs predict: the PD is underestimated",
        "recalibrate on recent applications (params models.calibration), add recent data and retrain, "
        "or reject the model"),
    "jeffreys_pvalue": TestText(
        "Portfolio calibration (Jeffreys test)", "the Jeffreys test also finds the PD underestimated",
        "recalibrate on recent applications"),
    "hosmer_lemeshow_pvalue": TestText(
        "Calibration over the grades (Hosmer-Lemeshow)",
        "observed default rates differ from the PDs in some grades", "recalibrate, or refit the master scale"),
    "grades_underestimated_share": TestText(
        "Grades with an underestimated PD", "several grades default more often than their PD says",
        "recalibrate, or merge thin grades in the master scale"),
    "ecb_auc_pvalue": TestText(
        "ECB AUC back-test", "today's AUC is significantly below the AUC at initial validation",
        "retrain on recent data"),
    "migration_mwb_upper": TestText(
        "Rating migrations, downgrades (MWB)", "enterprises move many grades down between the two rating dates",
        "check the stability of the inputs; expected after a shift in the portfolio"),
    "migration_mwb_lower": TestText(
        "Rating migrations, upgrades (MWB)", "enterprises move many grades up between the two rating dates",
        "check the stability of the inputs; expected after a shift in the portfolio"),
    "migration_ztest_pvalue": TestText(
        "Migration matrix z-tests", "some migrations between grades are more frequent than chance allows",
        "look at the migration matrix for the grades concerned"),
    "herfindahl_pvalue": TestText(
        "Concentration in grades (Herfindahl)", "out-of-time applications crowd into fewer grades than in development",
        "refit the master scale on recent applications"),
    "psi_score": TestText(
        "Score stability (PSI)",
        "today's applicants score differently from the development sample: the population has shifted",
        "find the shifted features in the CSI table; retrain on recent applications or drop unstable features"),
    "psi_score_month_max": TestText(
        "Worst monthly PSI", "the score distribution of at least one month differs from development",
        "look at that month's applications and data feeds"),
    "csi_max": TestText(
        "Feature stability (CSI)", "at least one feature is distributed very differently out of time",
        "check that feature's source and definition; drop it or retrain"),
    "source_missing_jump": TestText(
        "Data feed outage", "a source is missing for many more applications in some month than in development",
        "check the feed of that source for that month"),
    "grade_concentration_hhi": TestText(
        "Grade concentration (HHI)", "a few grades hold most applications", "refit the master scale"),
    "grade_max_share": TestText("Largest grade share", "one grade holds a large share of applications",
                                "refit the master scale"),
    "segment_auc_min": TestText(
        "Weakest segment AUC", "the model ranks poorly in at least one product, industry, district or size segment",
        "look at the segment table; consider segment features or a separate model"),
    "first_time_approval_ratio": TestText(
        "First-time borrowers' approval", "first-time borrowers are approved far less often than others",
        "check whether thin files are penalised beyond their risk (see Financial inclusion)"),
}


def test_title(test: str) -> str:
    """A test's name for people ("Out-of-time AUC"), or the test's own name."""
    return TESTS[test].title if test in TESTS else test.replace("_", " ")


@dataclass
class Verdict:
    """A verdict in words.

    Attributes
    ----------
    verdict : green, amber or red.
    setting : the gating lights (dicts from validation.json) whose light is the verdict.
    headline : one sentence: the verdict and the tests that set it.
    reasons : per setting test, one sentence with its value, threshold and meaning.
    remedies : what the developer can do, one sentence per setting test (no duplicates).
    approvable : whether a validator may approve a version with this verdict.
    other_reds : non-gating tests that are red (shown, but they do not set the verdict).
    """

    verdict: str
    setting: list[dict] = field(default_factory=list)
    headline: str = ""
    reasons: list[str] = field(default_factory=list)
    remedies: list[str] = field(default_factory=list)
    approvable: bool = True
    other_reds: list[str] = field(default_factory=list)


def setting_tests(verdict: str, lights: list[dict]) -> list[dict]:
    """The gating lights that set the verdict (a gate that could not be computed counts as amber)."""
    if verdict == "green":
        return []
    return [light for light in lights if light.get("gating") and _colour(light["light"]) == verdict]


def explain(verdict: str, lights: list[dict], metrics: dict | None = None, primary: str = "") -> Verdict:
    """The verdict of validation.json in words (see `Verdict`)."""
    metrics = metrics or {}
    setting = setting_tests(verdict, lights)
    gates = [light["test"] for light in lights if light.get("gating")]
    if verdict == "green":
        headline = f"GREEN: every gating test is green ({', '.join(test_title(t) for t in gates)})."
    else:
        names = ", ".join(test_title(light["test"]) for light in setting)
        headline = f"{verdict.upper()}, set by {names}."
    reasons, remedies = [], []
    for light in setting:
        reasons.append(_reason(light, metrics, primary))
        if light["light"] == "n/a":
            remedy = (f"make {test_title(light['test'])} computable: add data (more labelled applications or "
                      "defaults in the sample it needs), or change its params only with a documented reason")
        else:
            remedy = TESTS[light["test"]].remedy if light["test"] in TESTS else "look at the test in the lights table"
        if remedy not in remedies:
            remedies.append(remedy)
    if verdict == "red":
        remedies.append("a red version cannot be approved: fix the cause and run the pipeline again, or reject it")
    others = [light["test"] for light in lights if not light.get("gating") and light["light"] == "red"]
    return Verdict(verdict, setting, headline, reasons, remedies, verdict != "red", others)


def _colour(light: str) -> str:
    return "amber" if light == "n/a" else light


def _reason(light: dict, metrics: dict, primary: str) -> str:
    test = light["test"]
    text = TESTS.get(test)
    title = test_title(test)
    if light["light"] == "n/a":
        why = light.get("note") or "not computed"
        return f"{title} could not be computed ({why}); a gate nobody could check is not passed."
    value = light.get("value")
    threshold = light.get("threshold") or {}
    shown = _value(test, value)
    if threshold:
        better = ">=" if threshold.get("higher_is_better") else "<"
        limit = threshold["amber"] if light["light"] == "red" else threshold["green"]
        rule = f"{'amber' if light['light'] == 'red' else 'green'} needs {better} {limit:g}"
    else:
        rule = ""
    facts = _facts(test, metrics, primary)
    parts = [f"{title} is {shown}" + (f" ({rule})" if rule else "")]
    if facts:
        parts.append(facts)
    meaning = text.means if text else (light.get("note") or "")
    return "; ".join(parts) + (f": {meaning}." if meaning else ".")


def _value(test: str, value) -> str:
    if value is None:
        return "n/a"
    if test.endswith("pvalue"):
        return f"p = {pvalue(value)}"
    if test.endswith("share") or test == "first_time_approval_ratio" or test == "source_missing_jump":
        return percent(value) if test != "first_time_approval_ratio" else number(value, 3)
    return number(value, 3)


def _facts(test: str, metrics: dict, primary: str) -> str:
    m = metrics
    if test in ("calibration_pvalue", "jeffreys_pvalue") and f"{primary}.oot.mean_pd" in m:
        return (f"out of time the mean PD is {percent(m[f'{primary}.oot.mean_pd'])} against "
                f"{percent(m.get(f'{primary}.oot.observed_rate'))} observed")
    if test == "auc_drop" and "development_auc" in m and f"{primary}.oot.auc" in m:
        return f"AUC {number(m['development_auc'], 3)} in development, {number(m[f'{primary}.oot.auc'], 3)} out of time"
    if test == "auc_oot" and f"{primary}.oot.n" in m:
        return f"on {m[f'{primary}.oot.n']:,.0f} applications with {m.get(f'{primary}.oot.defaults', 0):,.0f} defaults"
    return ""
