; The plug-in tests both GIMP versions run, in Script-Fu: they build small images, run
; plug-in-nstyle, export layers as PNG into ns-dir and report facts as "NSFACT key value"
; messages, which run-tests.sh reads from stderr and checks. Each test is its own batch command
; (-b) that loads this file and then the version's file (gimp2-tests.scm or gimp3-tests.scm),
; which defines how that GIMP does what the tests need: ns-u8 (8-bit precision), ns-width,
; ns-height, ns-offsets, ns-png, ns-layers, ns-layer-count, ns-make-content, ns-call (one
; non-interactive call with tiny settings). Batch commands share no Scheme state, so one failing
; test does not stop the others.
;
; Engine settings (device, precision) come from NSTYLE_DEVICE / NSTYLE_OPTIONS in the
; environment; sizes and iterations here are tiny.

(define ns-dir ".")            ; set by each batch command
(define ns-style "style.png")  ; set with ns-dir

(define (ns-str v)
  (cond ((number? v) (number->string v))
        ((string? v) v)
        ((eq? v #t) "1")
        ((eq? v #f) "0")
        (else "?")))

(define (ns-fact key . vals)
  (gimp-message
   (string-append "NSFACT " key
                  (apply string-append (map (lambda (v) (string-append " " (ns-str v))) vals)))))

(define (ns-path name) (string-append ns-dir "/" name))

(define (ns-run img lay iters) (car (ns-call img lay ns-style iters)))

(define (ns-has-mask layer) (if (> (car (gimp-layer-get-mask layer)) 0) 1 0))

; Gives the layer a horizontal alpha ramp (applied layer mask from a black-to-white gradient).
(define (ns-add-alpha-ramp img lay)
  (gimp-layer-add-alpha lay)
  (let ((mask (car (gimp-layer-create-mask lay ADD-MASK-WHITE))))
    (gimp-layer-add-mask lay mask)
    (gimp-context-set-foreground '(0 0 0))
    (gimp-context-set-background '(255 255 255))
    (gimp-context-set-gradient-fg-bg-rgb)
    (gimp-drawable-edit-gradient-fill mask GRADIENT-LINEAR 0 FALSE 1 0 TRUE
                                      0 0 (ns-width lay) 0)
    (gimp-layer-remove-mask lay MASK-APPLY)))

; --- tests --------------------------------------------------------------------------------

; RGBA layer smaller than the image, at an offset, with an alpha ramp, no selection.
(define (ns-test-basic)
  (let* ((c (ns-make-content RGB ns-u8 48 40 40 32 5 3))
         (img (car c)) (lay (cadr c)))
    (ns-add-alpha-ramp img lay)
    (ns-png img lay "basic-src-before.png")
    (ns-fact "basic-layers-before" (ns-layer-count img))
    (let* ((new (ns-run img lay 8))
           (offs (ns-offsets new))
           (layers (ns-layers img)))
      (ns-fact "basic-layers-after" (ns-layer-count img))
      (ns-fact "basic-returned-is-top" (= new (car layers)))
      (ns-fact "basic-source-second" (= lay (cadr layers)))
      (ns-fact "basic-name" (car (gimp-item-get-name new)))
      (ns-fact "basic-size" (ns-width new) (ns-height new))
      (ns-fact "basic-offsets" (car offs) (cadr offs))
      (ns-fact "basic-has-alpha" (car (gimp-drawable-has-alpha new)))
      (ns-fact "basic-has-mask" (ns-has-mask new))
      (ns-png img lay "basic-src-after.png")
      (ns-png img new "basic-new.png"))))

; Full resolution (issue 10): size 0 gives a layer of the layer's own size worked at that size;
; size 32 gives the same size too, but stretched from a 32 px result. Both exported for
; imgcheck's high-frequency comparison.
(define (ns-test-full-res)
  (let* ((c (ns-make-content RGB ns-u8 128 96 128 96 0 0))
         (img (car c)) (lay (cadr c))
         (full (car (ns-call-size img lay ns-style 0 6)))
         (small (car (ns-call-size img lay ns-style 32 6))))
    (ns-fact "full-size" (ns-width full) (ns-height full))
    (ns-fact "small-size" (ns-width small) (ns-height small))
    (ns-png img full "full-new.png")
    (ns-png img small "small-new.png")))

; Opaque RGB layer, a few more iterations: for the style distance.
(define (ns-test-style)
  (let* ((c (ns-make-content RGB ns-u8 48 48 48 48 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "style-src.png")
    (ns-png img (ns-run img lay 10) "style-new.png")
    (ns-fact "style-layers-after" (ns-layer-count img))))

; A rectangle selection over the left half: only it changes (through the new layer's mask).
(define (ns-test-selection)
  (let* ((c (ns-make-content RGB ns-u8 48 40 48 40 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "sel-src.png")
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 24 40)
    (let ((new (ns-run img lay 8)))
      (ns-fact "sel-layers-after" (ns-layer-count img))
      (ns-fact "sel-has-mask" (ns-has-mask new))
      (ns-fact "sel-size" (ns-width new) (ns-height new))
      (ns-png img lay "sel-src-after.png")
      (gimp-selection-none img)
      (let* ((dup (car (gimp-image-duplicate img)))
             (flat (car (gimp-image-flatten dup))))
        (ns-png dup flat "sel-composite.png")
        (gimp-image-delete dup)))))

; A feathered ellipse: the new layer's mask is the selection, soft edges included. Reported as
; the number of partly selected pixels and the mean, of the mask and of the selection.
(define (ns-test-soft-selection)
  (let* ((c (ns-make-content RGB ns-u8 48 40 48 40 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-context-push)
    (gimp-context-set-feather TRUE)
    (gimp-context-set-feather-radius 8 8)
    (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 6 4 30 28)
    (gimp-context-pop)
    (let* ((new (ns-run img lay 2))
           (mask (car (gimp-layer-get-mask new)))
           (sel (car (gimp-image-get-selection img)))
           (partial (lambda (d) (list-ref (gimp-drawable-histogram d HISTOGRAM-VALUE 0.02 0.98) 4)))
           (mean (lambda (d) (car (gimp-drawable-histogram d HISTOGRAM-VALUE 0.0 1.0)))))
      (ns-fact "soft-has-mask" (ns-has-mask new))
      (ns-fact "soft-mask" (partial mask) (mean mask))
      (ns-fact "soft-selection" (partial sel) (mean sel)))))

; A missing style file: the call fails (caught here; GIMP prints the plug-in's message) and
; the image is as it was.
(define (ns-test-missing)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-image-clean-all img)
    (ns-png img lay "missing-src-before.png")
    (ns-fact "missing-result"
             (if (catch #f (ns-call img lay (ns-path "no-such-style.png") 2)) "success" "failed"))
    (ns-fact "missing-layers-after" (ns-layer-count img))
    (ns-fact "missing-dirty" (car (gimp-image-is-dirty img)))
    (ns-png img lay "missing-src-after.png")))

; Indexed images are refused with a message.
(define (ns-test-indexed)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE "")
    (ns-fact "indexed-result"
             (if (catch #f (ns-call img lay ns-style 2)) "success" "failed"))
    (ns-fact "indexed-layers-after" (ns-layer-count img))))

(define (ns-test-depth tag precision)
  (let* ((c (ns-make-content RGB precision 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay (string-append tag "-src.png"))
    (let ((new (ns-run img lay 4)))
      (ns-fact (string-append tag "-layers-after") (ns-layer-count img))
      (ns-fact (string-append tag "-precision") (car (gimp-image-get-precision img)))
      (ns-png img new (string-append tag "-new.png"))
      (ns-png img lay (string-append tag "-src-after.png")))))

(define (ns-test-gray)
  (let* ((c (ns-make-content GRAY ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "gray-src.png")
    (let ((new (ns-run img lay 4)))
      (ns-fact "gray-layers-after" (ns-layer-count img))
      (ns-fact "gray-is-gray" (car (gimp-drawable-is-gray new)))
      (ns-png img new "gray-new.png"))))

; Run by a GIMP started with NSTYLE_WEIGHTS naming a missing file: an execution error.
(define (ns-test-no-weights)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-fact "noweights-result" (if (catch #f (ns-run img lay 2)) "success" "failed"))
    (ns-fact "noweights-layers-after" (ns-layer-count img))))

; The device argument (ns-call-device: every argument) on a small layer: whether the call
; succeeded, and the layers after it. run-tests.sh runs it with NSTYLE_DEVICE=cpu (which
; overrides the argument) and without (the argument reaches nstyle_model_create).
(define (ns-test-device tag device)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-fact (string-append tag "-result")
             (if (catch #f (ns-call-device img lay ns-style 2 device)) "success" "failed"))
    (ns-fact (string-append tag "-layers-after") (ns-layer-count img))))

; Strength and the lite backbone through the procedure (ns-call-all: every argument): a new
; layer, changed; the log shows what the library read back (NSTYLE_GIMP_DEBUG).
(define (ns-test-lite)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "lite-src.png")
    (let ((new (car (ns-call-all img lay ns-style 4 0.9 "lite"))))
      (ns-fact "lite-layers-after" (ns-layer-count img))
      (ns-png img new "lite-new.png"))))

; --- regions (issue 19) -----------------------------------------------------------------------
; ns-call-mode (version file): one call with every argument, region-mode `mode`, `region` the
; region-drawable (-1: the selection), `outside` the outside style file ("": keep the photo). The layer is 96 x 64 with
; the left half selected; run-tests.sh measures the mean change per side on the PNGs and reads
; the engine times ("nstyle: optimised ...") from the log.

(define ns-region-iters 12)

(define (ns-call-region img lay style region outside iters)
  (ns-call-mode img lay style 1 region outside iters))

(define (ns-region-content)
  (let* ((c (ns-make-content RGB ns-u8 96 64 96 64 0 0)))
    (ns-png (car c) (cadr c) "region-src.png")
    c))

; The selection as the style's region, the photo kept outside; then a second style outside.
(define (ns-test-region)
  (let* ((c (ns-region-content)) (img (car c)) (lay (cadr c)))
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 48 64)
    (let* ((new (car (ns-call-region img lay ns-style -1 "" ns-region-iters)))
           (offs (ns-offsets new)))
      (ns-fact "region-layers-after" (ns-layer-count img))
      (ns-fact "region-returned-is-top" (= new (car (ns-layers img))))
      (ns-fact "region-geometry" (ns-width new) (ns-height new) (car offs) (cadr offs))
      (ns-fact "region-has-mask" (ns-has-mask new))
      (ns-png img new "region-new.png")
      (ns-png img lay "region-src-after.png"))
    (let ((new (car (ns-call-region img lay ns-style -1 (ns-path "style2.png") ns-region-iters))))
      (ns-fact "region-outside-layers-after" (ns-layer-count img))
      (ns-png img new "region-outside-new.png"))))

; The same size and settings with region-mode 0 and no selection (the whole layer): the timing
; peer of ns-test-region.
(define (ns-test-region-peer)
  (let* ((c (ns-region-content)) (img (car c)) (lay (cadr c)))
    (ns-png img (car (ns-call-mode img lay ns-style 0 -1 "" ns-region-iters))
            "region-peer-new.png")))

; A channel as the region (the selection saved, then dropped).
(define (ns-test-region-channel)
  (let* ((c (ns-region-content)) (img (car c)) (lay (cadr c)))
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 48 64)
    (let ((channel (car (gimp-selection-save img))))
      (gimp-selection-none img)
      (ns-png img (car (ns-call-region img lay ns-style channel "" ns-region-iters))
              "region-channel-new.png")
      (ns-fact "region-channel-layers-after" (ns-layer-count img)))))

; Bad input: no selection, an empty channel, a layer as the region: an error each, no new
; layer, the image clean.
(define (ns-test-region-errors)
  (let* ((c (ns-region-content)) (img (car c)) (lay (cadr c)))
    (gimp-image-clean-all img)
    (ns-fact "region-none-result"
             (if (catch #f (ns-call-region img lay ns-style -1 "" 2)) "success" "failed"))
    (let ((empty (car (gimp-selection-save img))))
      (gimp-image-clean-all img)
      (ns-fact "region-empty-result"
               (if (catch #f (ns-call-region img lay ns-style empty "" 2)) "success" "failed")))
    (ns-fact "region-layer-result"
             (if (catch #f (ns-call-region img lay ns-style lay "" 2)) "success" "failed"))
    (ns-fact "region-errors-layers-after" (ns-layer-count img))
    (ns-fact "region-errors-dirty" (car (gimp-image-is-dirty img)))
    (ns-png img lay "region-errors-src-after.png")))

; A feathered selection stays soft: the region the plug-in hands over (its debug line: partly
; selected pixels, mean) has the selection's mass. GIMP's histogram of the selection is
; weighted by the selection, so its pixel count is the sum of the selection's values.
(define (ns-test-region-soft)
  (let* ((c (ns-make-content RGB ns-u8 48 40 48 40 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-context-push)
    (gimp-context-set-feather TRUE)
    (gimp-context-set-feather-radius 8 8)
    (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 6 4 30 28)
    (gimp-context-pop)
    (let ((sel (car (gimp-image-get-selection img))))
      (ns-fact "region-soft-selection"
               (list-ref (gimp-drawable-histogram sel HISTOGRAM-VALUE 0.0 1.0) 3)))
    (let ((new (car (ns-call-region img lay ns-style -1 "" 2))))
      (ns-fact "region-soft-has-mask" (ns-has-mask new)))))
