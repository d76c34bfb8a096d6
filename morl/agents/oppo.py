"""OPPO (Kang et al., ICML 2023) over a preference axis: offline, from a dataset of reward vectors.

An encoder I_theta maps a trajectory segment to a context z; a policy pi(a | s, z) learns by
hindsight information matching (behaviour cloning of each segment's actions given its own z).
For every preference w of a training grid one optimal context z*_w is learned with OPPO's triplet
loss on segment pairs that a scripted teacher labels by ``w . G`` (the return over ``lookahead``
steps from the segment's start). As in the official code every gradient step alternates (1) an
update of encoder and policy on ``L_HIM + pref_loss_coef * L_PM + norm_loss_coef * L_norm`` with
z* detached, and (2) an AdamW step on z* alone on L_PM with the embeddings detached
(research/oppo.md §1.1, §4.2). The archive holds the rollouts of pi(. | s, z*_w) over the grid;
every entry names the shared policy snapshot and carries its context z*_w.

Budget: gradient steps. Evaluation (and the checkpoint) every ``eval_interval`` steps; sampling
draws from one seeded torch generator, so a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from morl import storage, tasks
from morl.agents.offline import OfflinePolicyAgent
from morl.agents.oppo_nets import ContextMap, ContextTable, SegmentEncoder, norm_loss, preference_loss
from morl.data.segments import Segments


@dataclass
class OPPOConfig:
    """Hyperparameters of OPPO; the official scripted-teacher defaults unless noted (research/oppo.md §1.3).

    Attributes:
        segment_length: K, steps per segment (official: 20); cut to the longest episode of the data.
        lookahead: steps of return the teacher scores a segment by (official ``foresee``: 200).
        teacher: ``lookahead`` scores a segment by its return over ``lookahead`` steps (official);
            ``episode`` by the return of the whole episode it comes from, ``w . G(tau)`` of the
            behaviour that produced it (ours). With rewards of one sign the look-ahead return ranks
            segments by how close they are to their episode's end rather than by how they behave.
        z_dim: context size (official: 8).
        encoder_hidden: GRU width (ours; the official BERT has 128).
        net_arch: hidden layers of the policy MLP (ours; the official GPT-2 has width 128).
        batch_size: segment pairs per gradient step (official: 64).
        learning_rate, weight_decay: AdamW for encoder and policy (official: 1e-4, 1e-4).
        warmup_steps: linear learning-rate warm-up of encoder and policy (official: 10,000).
        z_learning_rate, z_weight_decay: AdamW for the optimal contexts (official: 1e-3, 1e-4).
        z_init_std: the optimal contexts start at N(0, z_init_std^2) (official: 2; the table only).
        context_model: ``table``, one free z*_w per grid preference (official), or ``map``, z*_w = f(w)
            by one small MLP over w shared by every preference (ours), which ties neighbouring contexts
            together (:class:`morl.agents.oppo_nets.ContextMap`).
        pref_loss_coef: alpha_PM (official: 0.1).
        norm_loss_coef: beta_norm (official: 0.1).
        z_norm_loss: apply the norm regulariser to z* too, in step (2) (ours; the official code leaves
            z* free, and on small data z* then drifts where the policy never saw a context).
        margin: triplet margin (official: 1).
        grad_clip: gradient-norm clip per network (official: 0.25).
        num_preferences: equally spaced training preferences, one z*_w each; also the evaluation grid.
        labelled_pairs: 0 = relabel fresh pairs every step without limit (official); N > 0 = a fixed
            set of N labelled pairs per preference, drawn once from the seed.
        eval_interval: gradient steps between evaluations (and checkpoints); also after training.
        eval_episodes: episodes per preference and evaluation (deterministic actions).
    """

    segment_length: int = 20
    lookahead: int = 200
    teacher: Literal["lookahead", "episode"] = "lookahead"
    z_dim: int = 8
    encoder_hidden: int = 64
    net_arch: tuple[int, ...] = (128, 128)
    batch_size: int = 64
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 10_000
    z_learning_rate: float = 1e-3
    z_weight_decay: float = 1e-4
    z_init_std: float = 2.0
    context_model: Literal["table", "map"] = "table"
    pref_loss_coef: float = 0.1
    norm_loss_coef: float = 0.1
    z_norm_loss: bool = True
    margin: float = 1.0
    grad_clip: float = 0.25
    num_preferences: int = 11
    labelled_pairs: int = 0
    eval_interval: int = 1_000
    eval_episodes: int = 1


class OPPO(OfflinePolicyAgent):
    """Offline preference-guided policy optimisation with one learned optimal context per preference.

    Args:
        env: an offline task or :class:`morl.data.Dataset` that names the env it was collected in
            (rollouts of pi(. | s, z*_w) measure the value vectors).
        seed: seeds networks, contexts, segment sampling and evaluation envs.
        device: "auto", "cpu" or "cuda": data, networks and batches live there.
        config / **hparams: an :class:`OPPOConfig` or its fields.
    """

    name: ClassVar[str] = "oppo"
    Config: ClassVar[type] = OPPOConfig

    def __init__(self, env: tasks.Task | Any, *, seed: int = 0, device: str = "auto", config: Any = None,
                 **hparams: Any):  # fmt: skip
        super().__init__(env, seed=seed, device=device, config=config, **hparams)
        cfg: OPPOConfig = self.config
        for key in ("segment_length", "lookahead", "z_dim", "encoder_hidden", "batch_size"):
            if getattr(cfg, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(cfg, key)}")
        if cfg.labelled_pairs < 0:
            raise ValueError(f"labelled_pairs must be 0 (unlimited relabelling) or a number of pairs, got "
                             f"{cfg.labelled_pairs}")  # fmt: skip
        dev = self.device
        self.segments = Segments(self.dataset, cfg.segment_length, cfg.lookahead, dev)
        self.condition_dim = cfg.z_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = SegmentEncoder(self.obs_dim, self.action_dim, cfg.encoder_hidden, cfg.z_dim,
                                          self.discrete).to(dev)  # fmt: skip
            self.policy = self._new_policy().to(dev)
            if cfg.context_model == "table":
                self.contexts: nn.Module = ContextTable(len(self.grid), cfg.z_dim, cfg.z_init_std).to(dev)
            else:
                self.contexts = ContextMap(self.num_objectives, cfg.z_dim).to(dev)
        adamw = functools.partial(torch.optim.AdamW, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.optim = adamw([*self.encoder.parameters(), *self.policy.parameters()])
        self.z_optim = torch.optim.AdamW(self.contexts.parameters(), lr=cfg.z_learning_rate,
                                         weight_decay=cfg.z_weight_decay)  # fmt: skip
        self.labels = self._fixed_labels() if cfg.labelled_pairs else None

    @property
    def diagnostics(self) -> tuple[str, ...]:  # type: ignore[override]
        """``train.csv`` columns: the three losses of step (1), step (2)'s loss, mean grid returns per objective,
        and how monotonically the grid's returns follow the preference (:func:`metrics.preference_monotonicity`)."""
        returns = tuple(f"return_{j}" for j in range(self.num_objectives))
        return ("him_loss", "pref_loss", "norm_loss", "z_loss", "label_accuracy", *returns, "monotonicity")

    # --- labels -------------------------------------------------------------------------------
    def _fixed_labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed budget: ``labelled_pairs`` pairs per preference drawn once from the seed, (P, N, 2) starts."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed + 1)
        n = self.config.labelled_pairs
        starts = self.segments.sample(len(self.grid) * n * 2, gen).view(len(self.grid), n, 2)
        return starts, self._teacher(starts.view(-1, 2), self._grid.repeat_interleave(n, dim=0)).view(len(self.grid), n)

    def _teacher(self, pairs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The scripted teacher: +1 if the first segment has the larger ``w . G``, -1 if the second, 0 on a tie."""
        score = self.segments.returns if self.config.teacher == "lookahead" else self.segments.episode_returns
        gap = score(pairs[:, 0]) - score(pairs[:, 1])  # (B, m)
        return torch.sign((gap * w).sum(-1))

    def _pairs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch: segment start pairs (B, 2), their preference indices (B,) and labels (B,)."""
        b, gen = self.config.batch_size, self.generator
        pref = torch.randint(len(self.grid), (b,), device=self.device, generator=gen)
        if self.labels is None:
            pairs = self.segments.sample(2 * b, gen).view(b, 2)
            return pairs, pref, self._teacher(pairs, self._grid[pref])
        starts, labels = self.labels
        pick = torch.randint(starts.shape[1], (b,), device=self.device, generator=gen)
        return starts[pref, pick], pref, labels[pref, pick]

    # --- update -------------------------------------------------------------------------------
    def _update(self) -> None:
        """One alternation: encoder + policy on HIM, PM (z* detached) and norm losses; then z* on PM."""
        cfg: OPPOConfig = self.config
        pairs, pref, label = self._pairs()  # (B, 2), (B,), (B,)
        segments = self.segments.gather(pairs.T.reshape(-1))  # (2B, K, ...): every first, then every second
        z = self.encoder(segments)  # (2B, z)
        him = 2.0 * self.policy.imitation_loss(segments, z)  # the official sum of both segments' losses
        z1, z2 = z.chunk(2)
        better = (label > 0).unsqueeze(1)
        valid = (label != 0).float()
        pos, neg = torch.where(better, z1, z2), torch.where(better, z2, z1)
        pm = preference_loss(self.conditions()[pref].detach(), pos, neg, cfg.margin, valid)
        reg = 2.0 * norm_loss(z)
        loss = him + cfg.pref_loss_coef * pm + cfg.norm_loss_coef * reg
        for group in self.optim.param_groups:
            group["lr"] = cfg.learning_rate * min(1.0, (self.gradient_steps + 1) / max(1, cfg.warmup_steps))
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.encoder.parameters(), cfg.grad_clip)
        nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
        self.optim.step()

        with torch.no_grad():  # step (2): the updated encoder's embeddings, detached, as in the official code
            z1, z2 = self.encoder(segments).chunk(2)
            pos, neg = torch.where(better, z1, z2), torch.where(better, z2, z1)
        z_star = self.conditions()  # (P, z), with gradients into the contexts
        with torch.no_grad():
            anchor = z_star[pref]
            accuracy = ((anchor - pos).norm(dim=-1) < (anchor - neg).norm(dim=-1)).float()
        z_loss = preference_loss(z_star[pref], pos, neg, cfg.margin, valid)
        if cfg.z_norm_loss:  # ours: keep z* where the policy was trained (embeddings of norm ~1)
            z_loss = z_loss + cfg.norm_loss_coef * norm_loss(z_star)
        self.z_optim.zero_grad(set_to_none=True)
        z_loss.backward()
        self.z_optim.step()
        self.gradient_steps += 1
        self._record(
            him_loss=him,
            pref_loss=pm,
            norm_loss=reg,
            z_loss=z_loss,
            label_accuracy=(accuracy * valid).sum() / valid.sum().clamp(min=1),
        )

    def conditions(self) -> torch.Tensor:
        """The optimal context z*_w of every grid preference, (P, z_dim)."""
        return self.contexts(self._grid)

    # --- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            **super().state_dict(),
            "encoder": self.encoder.state_dict(),
            "contexts": self.contexts.state_dict(),
            "optim": storage.optimizer_state(self.optim),
            "z_optim": storage.optimizer_state(self.z_optim),
        }
        return {k: storage.to_cpu(v) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.encoder.load_state_dict(state["encoder"])
        if "contexts" not in state:  # checkpoints of the table from before the context model was a choice
            state = {**state, "contexts": {"z": state["z_star"]}}
        self.contexts.load_state_dict(state["contexts"])
        storage.load_optimizer_state(self.optim, state["optim"])
        storage.load_optimizer_state(self.z_optim, state["z_optim"])
