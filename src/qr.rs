//! QR codes and barcodes as SVG: invitation links, claim links, coupon codes, and the
//! member card's barcode for the older scanners that read only barcodes.

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

/// A Code 128 barcode (SVG, bars only: the page gives it its quiet zone) of a string of
/// digits, in character set C (two digits a bar pattern, so a long number stays narrow
/// enough for a phone's screen); empty if it is not digits.
pub fn barcode_svg(digits: &str) -> String {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return String::new();
    }
    // Set C pairs digits: an odd count gets a leading zero.
    let even = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    barcoders::sym::code128::Code128::new(format!("\u{0106}{even}"))
        .ok()
        .and_then(|code| {
            barcoders::generators::svg::SVG::new(60)
                .generate(code.encode())
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_barcode_is_drawn_for_digits_only() {
        let svg = super::barcode_svg("123456789012345678901234567");
        assert!(svg.starts_with("<svg") && svg.contains("<rect"), "{svg}");
        assert_eq!(super::barcode_svg("M12-34"), "");
    }
}
