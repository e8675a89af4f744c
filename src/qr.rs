//! QR codes as SVG: invitation links, claim links, coupon codes.

/// A QR code (SVG) of some text; empty if the text is too long for a QR code.
pub fn svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}
