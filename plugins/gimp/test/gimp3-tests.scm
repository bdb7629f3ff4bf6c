; Script-Fu (GIMP 3.0) side of the plug-in tests; the same tests and facts as gimp2-tests.scm,
; in GIMP 3's API (named arguments, drawables arrays, booleans as 0/1 in this dialect). The
; content and style PNGs come from run-tests.sh (GIMP 3 has no plasma plug-in). Each test is
; one batch command that loads this file first; GIMP 3 stops at the first failing batch
; command, so expected failures are caught here.

(define ns-dir ".")
(define ns-style "style.png")

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

; Exports one layer (its own size, no mask) as a PNG with no metadata, so equal pixels give
; equal files.
(define (ns-png img drawable name)
  (let* ((w (car (gimp-drawable-get-width drawable)))
         (h (car (gimp-drawable-get-height drawable)))
         (out (car (gimp-image-new-with-precision w h (car (gimp-image-get-base-type img))
                                                  (car (gimp-image-get-precision img)))))
         (copy (car (gimp-layer-new-from-drawable drawable out))))
    (gimp-image-insert-layer out copy 0 0)
    (gimp-layer-set-offsets copy 0 0)
    (if (> (car (gimp-layer-get-mask copy)) 0) (gimp-layer-remove-mask copy MASK-DISCARD))
    (file-png-export #:run-mode RUN-NONINTERACTIVE #:image out #:file (ns-path name)
                     #:interlaced FALSE #:compression 9 #:bkgd FALSE #:offs FALSE #:phys FALSE
                     #:time FALSE #:save-transparent FALSE #:include-exif FALSE
                     #:include-iptc FALSE #:include-xmp FALSE #:include-color-profile FALSE
                     #:include-thumbnail FALSE #:include-comment FALSE)
    (gimp-image-delete out)))

(define (ns-layers img) (vector->list (car (gimp-image-get-layers img))))
(define (ns-layer-count img) (length (ns-layers img)))

(define (ns-load name) (car (gimp-file-load RUN-NONINTERACTIVE (ns-path name))))

; content.png (48 x 48) scaled to w x h, placed at (x, y) in an image of iw x ih, converted to
; the base type (RGB or GRAY) and precision asked for.
(define (ns-make-content type precision iw ih w h x y)
  (let* ((img (ns-load "content.png"))
         (lay (car (ns-layers img))))
    (gimp-image-scale img w h)
    (gimp-image-resize img iw ih x y)
    (if (= type GRAY) (gimp-image-convert-grayscale img))
    (if (not (= precision (car (gimp-image-get-precision img))))
        (gimp-image-convert-precision img precision))
    (gimp-item-set-name lay "source")
    (gimp-image-clean-all img)
    (list img lay)))

(define (ns-add-alpha-ramp img lay)
  (gimp-layer-add-alpha lay)
  (let ((mask (car (gimp-layer-create-mask lay ADD-MASK-WHITE))))
    (gimp-layer-add-mask lay mask)
    (gimp-context-set-foreground '(0 0 0))
    (gimp-context-set-background '(255 255 255))
    (gimp-context-set-gradient-fg-bg-rgb)
    (gimp-drawable-edit-gradient-fill mask GRADIENT-LINEAR 0 FALSE 1 0 TRUE
                                      0 0 (car (gimp-drawable-get-width lay)) 0)
    (gimp-layer-remove-mask lay MASK-APPLY)))

(define (ns-call img lay style iters)
  (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                  #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                  #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0))

(define (ns-run img lay iters) (car (ns-call img lay ns-style iters)))

; --- tests --------------------------------------------------------------------------------

(define (ns-test-registered)
  (ns-fact "reg-exists" (car (gimp-pdb-procedure-exists "plug-in-nstyle"))))

(define (ns-test-basic)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 48 40 40 32 5 3))
         (img (car c)) (lay (cadr c)))
    (ns-add-alpha-ramp img lay)
    (ns-png img lay "basic-src-before.png")
    (ns-fact "basic-layers-before" (ns-layer-count img))
    (let* ((new (ns-run img lay 8))
           (offs (gimp-drawable-get-offsets new))
           (layers (ns-layers img)))
      (ns-fact "basic-layers-after" (ns-layer-count img))
      (ns-fact "basic-returned-is-top" (= new (car layers)))
      (ns-fact "basic-source-second" (= lay (cadr layers)))
      (ns-fact "basic-name" (car (gimp-item-get-name new)))
      (ns-fact "basic-size" (car (gimp-drawable-get-width new))
               (car (gimp-drawable-get-height new)))
      (ns-fact "basic-offsets" (car offs) (cadr offs))
      (ns-fact "basic-has-alpha" (car (gimp-drawable-has-alpha new)))
      (ns-png img lay "basic-src-after.png")
      (ns-png img new "basic-new.png"))))

(define (ns-test-style)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 48 48 48 48 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "style-src.png")
    (ns-png img (ns-run img lay 10) "style-new.png")
    (ns-fact "style-layers-after" (ns-layer-count img))))

(define (ns-test-selection)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 48 40 48 40 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "sel-src.png")
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 24 40)
    (let ((new (ns-run img lay 8)))
      (ns-fact "sel-layers-after" (ns-layer-count img))
      (ns-fact "sel-has-mask" (if (> (car (gimp-layer-get-mask new)) 0) 1 0))
      (ns-fact "sel-size" (car (gimp-drawable-get-width new)) (car (gimp-drawable-get-height new)))
      (ns-png img lay "sel-src-after.png")
      (gimp-selection-none img)
      (let* ((dup (car (gimp-image-duplicate img)))
             (flat (car (gimp-image-flatten dup))))
        (ns-png dup flat "sel-composite.png")
        (gimp-image-delete dup)))))

(define (ns-test-missing)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "missing-src-before.png")
    (ns-fact "missing-result"
             (if (catch #f (ns-call img lay (ns-path "no-such-style.png") 2)) "success" "failed"))
    (ns-fact "missing-layers-after" (ns-layer-count img))
    (ns-fact "missing-dirty" (car (gimp-image-is-dirty img)))
    (ns-png img lay "missing-src-after.png")))

(define (ns-test-indexed)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 32 32 32 32 0 0))
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
  (let* ((c (ns-make-content GRAY PRECISION-U8-NON-LINEAR 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "gray-src.png")
    (let ((new (ns-run img lay 4)))
      (ns-fact "gray-layers-after" (ns-layer-count img))
      (ns-fact "gray-is-gray" (car (gimp-drawable-is-gray new)))
      (ns-png img new "gray-new.png"))))

; RUN-WITH-LAST-VALS: the remembered values (run-tests.sh writes them: GIMP 3 remembers only
; interactive runs), no dialog (there is no display here).
(define (ns-test-last-vals)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-call img lay ns-style 2)
    (let ((new (car (plug-in-nstyle #:run-mode RUN-WITH-LAST-VALS #:image img
                                    #:drawables (vector lay)))))
      (ns-fact "lastvals-layers-after" (ns-layer-count img))
      (ns-fact "lastvals-name" (car (gimp-item-get-name new))))))

; Run by a GIMP started with NSTYLE_WEIGHTS naming a missing file: an execution error.
(define (ns-test-no-weights)
  (let* ((c (ns-make-content RGB PRECISION-U8-NON-LINEAR 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-fact "noweights-result" (if (catch #f (ns-run img lay 2)) "success" "failed"))
    (ns-fact "noweights-layers-after" (ns-layer-count img))))
