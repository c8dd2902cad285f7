"""Params of stage 02: the scorecard, the gradient boosting, calibration and the master scale.

These sections hold the one set of defaults: the estimators of `creditmine.models` take their
constructor defaults from them (a test checks every one).
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from creditmine.config.base import Section


class ScaleParams(Section):
    """The points scale of both models: base_points at good:bad odds base_odds, pdo points double the odds."""

    base_points: float = 600.0
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_points")
    pdo: float = Field(20.0, gt=0, description="points to double the odds")


class MarginOfConservatism(Section):
    """The margin of conservatism on the PD (EBA GL/2017/16, section 4.4.4), one add-on per category.

    Each add-on is relative to the best estimate of the mean PD (0.05 adds 5 % of it); the final
    add-on is their sum. Category C can be estimated from the data instead of given.
    """

    category_a: float = Field(
        0.0, ge=0, le=1, description="A: identified deficiencies of data and methods (missing or unreliable data, changes in processes)"
    )
    category_b: float = Field(
        0.0, ge=0, le=1, description="B: relevant changes to underwriting standards, risk appetite, collection or the economic environment"
    )
    category_c: float | None = Field(
        None, ge=0, le=1,
        description="C: general estimation error; None estimates it as the one-sided `confidence` bound of the long-run "
        "default rate (binomial sampling error) relative to the rate",
    )
    confidence: float = Field(0.9, gt=0.5, lt=1, description="confidence of the estimated category C")


class CalibrationParams(Section):
    """Raw log-odds to PD: Platt by default, since isotonic steps tie applications, which costs ranking
    (out-of-time AUC) and leaves master-scale grades empty; "auto" picks isotonic when its log loss is lower.

    The map is increasing by construction: a Platt slope that would not be positive, or a calibration
    sample with fewer than `min_defaults` defaults, falls back to the raw model's own log-odds (slope 1),
    with a note. After the map is fitted, the central tendency is set by a shift of the log-odds
    intercept, which keeps the ranking: `target: long_run` moves the mean PD of the booked applications
    after the development period (the current portfolio; their outcomes are never read) to the long-run
    average default rate of the labelled development history plus the margin of conservatism;
    `target: observed` keeps the holdout's level and adds only the margin.
    """

    method: Literal["auto", "isotonic", "sigmoid"] = Field(
        "sigmoid", description="sigmoid (Platt, keeps the ranking), isotonic, or auto"
    )
    folds: int = Field(5, ge=2, description="folds comparing isotonic and Platt when 'auto'")
    pd_floor: float = Field(0.0003, gt=0, lt=0.1, description="smallest PD a calibrated model gives (3 bp)")
    min_defaults: int = Field(
        10, ge=1, description="fewer defaults in the calibration sample: the raw log-odds are kept (slope 1), with a note"
    )
    target: Literal["observed", "long_run"] = Field(
        "long_run", description="central tendency: the holdout's observed level, or the long-run average default rate"
    )
    long_run_default_rate: float | None = Field(
        None, gt=0, lt=1, description="the long-run average default rate; None computes it over the labelled history"
    )
    long_run_average: Literal["yearly", "pooled"] = Field(
        "pooled",
        description="long-run rate over the history: pooled (defaults / loans), or the mean of the yearly default "
        "rates (by application year; pooled without dates)",
    )
    margin_of_conservatism: MarginOfConservatism = MarginOfConservatism()


class MasterScaleParams(Section):
    """The rating master scale: grades 1 (best) .. G with PD boundaries from the development PDs."""

    grades: int = Field(10, ge=2, le=26, description="grades of the rating master scale")
    method: Literal["quantile", "geometric"] = Field(
        "quantile",
        description="grade PD boundaries: quantiles of development PDs, or log-spaced between their 1st and 99th percentiles",
    )


class ScorecardParams(Section):
    """Optimal binning and the WoE logistic regression of the scorecard."""

    min_bin_share: float = Field(0.05, gt=0, lt=0.5)
    max_bins: int = Field(10, ge=2)
    min_iv: float = Field(0.02, ge=0, description="drop features below this information value")
    max_iv_pvalue: float = Field(
        0.05, ge=0, le=1,
        description="a feature below min_iv is kept all the same when its bins' G-test p-value (equal default rates "
        "in every bin) is at most this: a weak signal that many loans show clearly; 0 = min_iv alone decides",
    )
    max_correlation: float = Field(0.7, gt=0, le=1, description="drop the weaker of two features above")
    max_features: int = Field(25, ge=1)
    regularization_c: Annotated[float, Field(gt=0)] | Literal["cv"] = Field(
        1.0, description="inverse L2 strength of the WoE regression, or 'cv': chosen among 0.01..10 by 5-fold "
        "cross-validated AUC on the training rows (strong on small data, light on large)",
    )
    unknown_trend: Literal["auto", "auto_asc_desc", "peak", "valley"] = Field(
        "auto",
        description="binning trend of features whose risk direction is 0 (unknown): optbinning's 'auto' picks "
        "ascending, descending, peak or valley per feature from the data, so a U-shaped feature keeps its shape",
    )
    special_values: tuple[float, ...] = Field(
        (), description="numeric codes scored in their own 'Special' bin (e.g. -1 for 'not applicable')"
    )
    woe_smoothing: float = Field(0.5, ge=0, description="pseudo-count added to goods and bads of a bin that has no goods or no bads")
    binning_time_limit: float = Field(10.0, gt=0, description="seconds for the binning solver per feature")
    drop_wrong_sign: bool = Field(True, description="drop features whose coefficient contradicts the WoE and refit")


class SearchSpace(Section):
    """Ranges of the seeded random hyper-parameter search (log-uniform for rates, uniform else)."""

    learning_rate: tuple[float, float] = (0.02, 0.2)
    max_leaf_nodes: tuple[int, int] = (7, 63)
    min_samples_leaf: tuple[int, int] = (20, 400)
    l2_regularization: tuple[float, float] = (0.0, 10.0)

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> "SearchSpace":
        for name in ("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization"):
            low, high = getattr(self, name)
            if high < low:
                raise ValueError(f"{name}: upper bound below lower bound; got ({low}, {high})")
        return self


class GbmParams(Section):
    max_iter: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    class_weight: Literal["balanced"] | None = None
    early_stopping: bool = True
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    n_iter_no_change: int = Field(20, ge=1, description="early stopping patience in boosting rounds")
    search_trials: int = Field(6, ge=0, description="seeded random hyper-parameter trials; 0 = none")
    search_space: SearchSpace = SearchSpace()
    search_rows: int | None = Field(
        20_000, ge=1000, description="trials fit on a stratified sample of this many training rows, the best is refitted on all; None = all"
    )
    search_folds: Annotated[int, Field(ge=0)] | Literal["auto"] = Field(
        "auto", description="score trials by stratified k-fold AUC on the training data; 0 = on the holdout; auto = "
        "5 folds with fewer than 5,000 training rows (a small holdout scores trials by chance), else the holdout",
    )
    monotone: bool = Field(True, description="monotone constraints from the catalog's risk direction")


class ReweightingParams(Section):
    """Reject inference by reweighting: each booked loan weighs 1 / P(booked | features)."""

    max_weight: float = Field(10.0, gt=1, description="weights are clipped here before they are scaled to mean 1")
    folds: int = Field(5, ge=2, description="the booking model's P(booked) is predicted out of fold")


class ParcellingParams(Section):
    """Reject inference by parcelling: rejects drawn bad at their score band's bad rate times `factor`."""

    bands: int = Field(10, ge=2, description="quantile bands of the booked loans' PD")
    factor: float = Field(1.5, ge=1, description="rejects' bad rate over the booked loans' bad rate in the same band")


class FuzzyAugmentationParams(Section):
    """Reject inference by fuzzy augmentation: each reject entered as a bad weighted by its PD and a good
    weighted by 1 - PD."""

    reject_weight: float = Field(1.0, gt=0, le=1, description="weight of a reject's pair relative to a booked loan")


class RejectInferenceParams(Section):
    """Reject inference: the applications the past policy declined (booked = false, from the raw
    `applications` table) enter training, so the models learn about the whole through-the-door
    population and not only the booked ~70 %."""

    method: Literal["none", "reweighting", "parcelling", "fuzzy_augmentation"] = Field(
        "none", description="none, reweighting, parcelling or fuzzy_augmentation"
    )
    reweighting: ReweightingParams = ReweightingParams()
    parcelling: ParcellingParams = ParcellingParams()
    fuzzy_augmentation: FuzzyAugmentationParams = FuzzyAugmentationParams()


class LeakageScreen(Section):
    """A feature that alone separates defaults almost perfectly is more likely a copy of the outcome than
    a predictor: it is excluded unless allowed by name, and flagged either way."""

    max_auc: float = Field(
        0.97, gt=0.5, le=1,
        description="single-feature training AUC (either direction) at which a feature is flagged; real predictors "
        "reach 0.95 (card balance in ISLP's Default), copies of the outcome 0.99",
    )
    max_iv: float = Field(
        6.0, gt=0, description="information value (10 quantile bins, or the categories) at which a feature is flagged"
    )
    allow: tuple[str, ...] = Field((), description="flagged features kept all the same (named on purpose)")


class CardinalityGuard(Section):
    """Categorical features with very many values: identifiers are excluded; the others are grouped
    (the most frequent `max_categories - 1` values kept, the rest one group) or excluded."""

    max_categories: int = Field(50, ge=2, description="more distinct training values than this and the guard acts")
    action: Literal["group", "exclude"] = "group"
    max_unique_share: float = Field(
        0.5, gt=0, le=1, description="a column with more distinct values than this share of the rows is an identifier: excluded"
    )


class GuardParams(Section):
    """Guards of stage 02 on its training data (each a light of stage 04)."""

    leakage: LeakageScreen = LeakageScreen()
    cardinality: CardinalityGuard = CardinalityGuard()
    min_train_defaults: int = Field(20, ge=2, description="fewer training defaults: stage 02 refuses to train")


class ModelParams(Section):
    """Stage 02: which model is primary, the parts both models share, and each model's own settings."""

    primary: Literal["gbm", "scorecard"] = "gbm"
    scale: ScaleParams = ScaleParams()
    calibration: CalibrationParams = CalibrationParams()
    master_scale: MasterScaleParams = MasterScaleParams()
    scorecard: ScorecardParams = ScorecardParams()
    gbm: GbmParams = GbmParams()
    reject_inference: RejectInferenceParams = RejectInferenceParams()
    guards: GuardParams = GuardParams()
    threads: int | None = Field(
        1, ge=1, description="OpenMP threads of the boosting; None = all cores (oversubscribes a shared machine)"
    )
