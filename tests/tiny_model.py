"""A tiny dense GAN on 8x8 digits: exercises the training core (tests only)."""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from aigc_keras import losses
from aigc_keras.models.base import GenerativeModel


class TinyGAN(GenerativeModel):
    optimizer_names = ("generator", "discriminator")

    def __init__(self, latent_dim=4, width=16, seed=0, **kwargs):
        super().__init__(trackers=("d_loss", "g_loss", "noise_mean"), seed=seed, **kwargs)
        self.latent_dim, self.width = latent_dim, width
        self.generator = keras.Sequential(
            [
                keras.Input((latent_dim,)),
                layers.Dense(width, activation="relu", name="g_hidden"),
                layers.Dense(64, activation="tanh", name="g_out", dtype="float32"),
                layers.Reshape((8, 8, 1)),
            ],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Flatten(),
                layers.Dense(width, activation="relu", name="d_hidden"),
                layers.Dense(1, name="d_out", dtype="float32"),
            ],
            name="discriminator",
        )
        self.build_now(np.zeros((1, latent_dim), np.float32))

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "width": self.width}

    @property
    def latent_shape(self):
        return (self.latent_dim,)

    def sample_from_latents(self, latents, labels=None):
        return self.generator(latents, training=False)

    def default_optimizers(self):
        return {
            "generator": keras.optimizers.Adam(1e-3),
            "discriminator": keras.optimizers.Adam(1e-3),
        }

    def optimizer_variables(self, name):
        return getattr(self, name).trainable_variables

    def train_step(self, real):
        real = self.as_compute(real)
        z = self.noise((tf.shape(real)[0], self.latent_dim))
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_loss = losses.discriminator_loss(
                self.discriminator(real, training=True), self.discriminator(fake, training=True)
            )
            scaled = self.scale_loss("discriminator", d_loss)
        self.apply_gradients("discriminator", tape.gradient(scaled, d_vars), d_vars)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            g_loss = losses.generator_loss(
                self.discriminator(self.generator(z, training=True), training=True)
            )
            scaled = self.scale_loss("generator", g_loss)
        self.apply_gradients("generator", tape.gradient(scaled, g_vars), g_vars)
        return self.record(d_loss=d_loss, g_loss=g_loss, noise_mean=tf.reduce_mean(z))
