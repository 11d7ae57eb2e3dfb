"""Augmentations that match how real captures differ: framing, blur, compression, light, sensor,
colour, rotation, and a medical mask over live faces.

Every function takes and returns a float tensor 3xHxW of RGB values in [0, 255] (the crops as the
engine wrote them) and draws its randomness from the torch.Generator it is given, so a crop's k-th
augmented copy is the same on every run.
"""
import math

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torchvision.io import decode_jpeg, encode_jpeg


def _u(g, lo, hi):
    return lo + (hi - lo) * torch.rand((), generator=g).item()


def _p(g, p):
    return torch.rand((), generator=g).item() < p


def affine(img, angle_deg, scale, dx, dy, flip):
    """Rotation, zoom (scale > 1 zooms in: less context), shift (in shares of the side) and a
    horizontal flip. What comes in from outside repeats the edge pixels, as the engine's crop rule
    fills what lies outside the frame."""
    a = math.radians(angle_deg)
    cos, sin = math.cos(a) / scale, math.sin(a) / scale
    sx = -1.0 if flip else 1.0
    theta = torch.tensor([[cos * sx, -sin, dx * 2], [sin * sx, cos, dy * 2]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, *img.shape], align_corners=False)
    return F.grid_sample(img[None], grid, mode='bilinear', padding_mode='border', align_corners=False)[0]


def mask_occluder(img, lm, g):
    """A medical mask over the lower face, from the landmarks (68 points, crop pixels): from the
    nose bridge down around the jaw, in a mask's colours, with soft shading and pleats."""
    pts = [tuple(lm[i]) for i in range(2, 15)]  # jaw from below the right ear to below the left
    y_top = lm[28][1]
    left, right = lm[1][0], lm[15][0]
    poly = pts + [(right, y_top), ((left + right) / 2, y_top - 0.02 * (right - left)), (left, y_top)]
    colour = [(170, 205, 230), (235, 238, 240), (40, 42, 48), (120, 170, 210)][int(_u(g, 0, 4)) % 4]
    h, w = img.shape[1:]
    canvas = Image.new('L', (w, h), 0)
    ImageDraw.Draw(canvas).polygon(poly, fill=255)
    alpha = torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8).reshape(h, w).float() / 255
    ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    shade = 0.85 + 0.15 * torch.cos((ys - y_top) / max(1.0, lm[8][1] - y_top) * math.pi * 3) ** 2
    fill = torch.tensor(colour, dtype=torch.float32)[:, None, None] * shade[None]
    fill = fill + torch.randn(fill.shape, generator=g) * 3
    return img * (1 - alpha[None]) + fill * alpha[None]


def motion_blur(img, length, angle_deg):
    k = int(length) | 1
    kern = torch.zeros(k, k)
    c = k // 2
    a = math.radians(angle_deg)
    for t in torch.linspace(-c, c, 4 * k):
        x, y = round(c + t.item() * math.cos(a)), round(c + t.item() * math.sin(a))
        kern[y, x] = 1
    kern /= kern.sum()
    return _conv(img, kern)


def defocus_blur(img, radius):
    k = 2 * int(math.ceil(radius)) + 1
    c = k // 2
    ys, xs = torch.meshgrid(torch.arange(k) - c, torch.arange(k) - c, indexing='ij')
    kern = ((xs ** 2 + ys ** 2) <= radius ** 2 + 0.5).float()
    kern /= kern.sum()
    return _conv(img, kern)


def _conv(img, kern):
    k = kern.shape[0]
    w = kern[None, None].repeat(3, 1, 1, 1)
    x = F.pad(img[None], (k // 2,) * 4, mode='replicate')
    return F.conv2d(x, w, groups=3)[0]


def jpeg(img, quality):
    u8 = img.clamp(0, 255).round().to(torch.uint8)
    return decode_jpeg(encode_jpeg(u8, quality=int(quality))).float()


def gamma(img, g):
    return 255 * (img.clamp(0, 255) / 255) ** g


def backlight(img, strength):
    """A bright background behind a darker face: the centre darkened, the edges lifted."""
    h, w = img.shape[1:]
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing='ij')
    r = (xs ** 2 + ys ** 2).sqrt().clamp(0, 1)
    face = 1 - strength * (1 - r)          # darker in the middle
    edge = 1 + strength * 0.6 * r           # brighter towards the edges
    return img * (face * edge)[None]


def colour_temperature(img, t):
    """t in [-1, 1]: warm (more red, less blue) to cool."""
    gains = torch.tensor([1 + 0.15 * t, 1.0, 1 - 0.15 * t])[:, None, None]
    return img * gains


def sensor_noise(img, sigma, g):
    lum = torch.randn(img.shape[1:], generator=g)[None] * sigma
    chroma = torch.randn(img.shape, generator=g) * sigma * 0.4
    return img + lum + chroma


def augment(img, lm, live, g):
    """One random augmented copy of a crop (3xHxW RGB float 0-255); lm: 68 landmarks or None."""
    if live and lm is not None and _p(g, 0.15):
        img = mask_occluder(img, lm, g)
    big_rot = _p(g, 0.25)
    img = affine(img, _u(g, -30, 30) if big_rot else _u(g, -8, 8), _u(g, 0.87, 1.15),
                 _u(g, -0.05, 0.05), _u(g, -0.05, 0.05), _p(g, 0.5))
    r = torch.rand((), generator=g).item()
    if r < 0.15:
        img = motion_blur(img, _u(g, 3, 9), _u(g, 0, 180))
    elif r < 0.3:
        img = defocus_blur(img, _u(g, 0.8, 2.5))
    r = torch.rand((), generator=g).item()
    if r < 0.3:
        img = gamma(img, _u(g, 1.3, 2.4))   # dark
    elif r < 0.45:
        img = gamma(img, _u(g, 0.5, 0.8))   # bright
    elif r < 0.55:
        img = backlight(img, _u(g, 0.2, 0.5))
    if _p(g, 0.5):
        img = img * _u(g, 0.8, 1.2) + _u(g, -20, 20)
    if _p(g, 0.4):
        img = colour_temperature(img, _u(g, -1, 1))
    if _p(g, 0.3):
        img = sensor_noise(img, _u(g, 2, 9), g)
    img = img.clamp(0, 255)
    if _p(g, 0.6):
        img = jpeg(img, _u(g, 30, 95))
    return img.clamp(0, 255)
